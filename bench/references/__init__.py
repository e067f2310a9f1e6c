"""Hand-written ceilings for every figure of the benchmark.

Each reference does the same work as the endpoint it is measured against, written the
shortest way the machine allows: plain Django views (served by the same gunicorn, through the
same middleware) with one hand-written authentication query, `.values()` and `JsonResponse`,
and set-based SQL. They are reviewed like code: a reference that does less work than the
service, or does it slower than it could, makes a ratio lie.

`base` authenticates; `pages` holds the organization's detail, the goals list and the
alignment tree; `dashboard` the dashboard; `writes` the readings ingest and the rescore.
"""

from bench.references.dashboard import dashboard
from bench.references.pages import goals_page, org_detail, tree
from bench.references.writes import ingest_pipeline, readings_binary_copy, readings_sql_pipeline, rescore_statement

__all__ = [
    "dashboard",
    "goals_page",
    "ingest_pipeline",
    "org_detail",
    "readings_binary_copy",
    "readings_sql_pipeline",
    "rescore_statement",
    "tree",
]
