"""The API's routes, and the hand-written references beside them under `/bench/`."""

from django.urls import path

from alignment_service.urls import handler400, handler403, handler404, handler500
from alignment_service.urls import urlpatterns as api_urlpatterns
from bench import references

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("bench/orgs/<slug:org>/", references.org_detail),
    path("bench/orgs/<slug:org>/goals/", references.goals_page),
    path("bench/orgs/<slug:org>/dashboard/", references.dashboard),
    path("bench/orgs/<slug:org>/alignment-tree/", references.tree),
    path("bench/orgs/<slug:org>/readings/sql/", references.readings_sql_pipeline),
    path("bench/orgs/<slug:org>/readings/binary-copy/", references.readings_binary_copy),
    *api_urlpatterns,
]
