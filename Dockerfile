# syntax=docker/dockerfile:1
# One image for every process: the API (gunicorn, the default command), the one-off
# migration, the Celery workers (scoring and webhooks) and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

# The pinned dependencies get their own layer, rebuilt only when pyproject.toml changes: with
# just the metadata in place the project has no packages yet, so this installs the
# dependencies alone.
COPY pyproject.toml README.md ./
RUN pip install . \
    && pip uninstall --yes alignment-service \
    && rm -rf build ./*.egg-info

COPY . .
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && python -m compileall -q alignment_service teams goals feedback

# Settings refuse to load without a secret key; this one exists only for this build step.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-dummy-key python manage.py collectstatic --noinput --verbosity 0

# Celery beat keeps its schedule (when each job last ran) here, on a volume in docker-compose.yml.
RUN mkdir -p /var/lib/celery-beat && chown app:app /var/lib/celery-beat

USER app

EXPOSE 8000

# gunicorn.conf.py holds every server setting (shared with `make run`): WEB_CONCURRENCY worker
# processes (default 2), GUNICORN_THREADS threads each (default 4), access log on stdout.
ENV WEB_CONCURRENCY=3 \
    GUNICORN_BIND=0.0.0.0:8000

CMD ["gunicorn", "--config", "gunicorn.conf.py", "alignment_service.wsgi:application"]
