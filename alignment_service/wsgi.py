import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alignment_service.settings")
application = get_wsgi_application()
# Django refuses to hand out an empty SECRET_KEY: reading it here stops a server started without one.
_ = settings.SECRET_KEY
