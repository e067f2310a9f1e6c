"""Writes for the direction, pillars, cycles, goals, metrics and readings, one module each.

Every write that can change a score owes the workers a rescore of the organization through
the outbox, in the same transaction. Derived values (metric current, forecast and progress;
goal progress) are refreshed in the same transaction too (`goals.derived`), so reads reflect
writes.
"""

from goals.derived import goals_refresh_progress, metrics_refresh
from goals.services.common import RESCORE_TASK, check_version, owe_rescore, writes_derived_values
from goals.services.cycles import cycle_create, cycle_delete, cycle_update
from goals.services.direction import direction_update
from goals.services.goals import goal_create, goal_delete, goal_update
from goals.services.metrics import metric_create, metric_delete, metric_update
from goals.services.org import derived_values_refresh, member_departed, org_settings_changed
from goals.services.pillars import pillar_create, pillar_delete, pillar_update
from goals.services.readings import ReadingInput, reading_record, readings_ingest

__all__ = [
    "RESCORE_TASK",
    "ReadingInput",
    "check_version",
    "cycle_create",
    "cycle_delete",
    "cycle_update",
    "derived_values_refresh",
    "direction_update",
    "goal_create",
    "goal_delete",
    "goal_update",
    "goals_refresh_progress",
    "member_departed",
    "metric_create",
    "metric_delete",
    "metric_update",
    "metrics_refresh",
    "org_settings_changed",
    "owe_rescore",
    "pillar_create",
    "pillar_delete",
    "pillar_update",
    "reading_record",
    "readings_ingest",
    "writes_derived_values",
]
