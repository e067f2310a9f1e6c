"""What the goals app does when its organization changes: a member leaves, the rules move,
or a release asks for every derived value again."""

from django.db import transaction

from alignment_service.db import DERIVED_VALUES_LOCK, lock_org
from goals.derived import goals_refresh_progress, metrics_refresh, refresh_metric_windows, set_goal_window
from goals.models import Goal, Metric, StrategyPillar
from goals.services.common import owe_rescore
from teams.models import Organization


def member_departed(*, org: Organization, user_id: int) -> None:
    """A member left: the goals and pillars they owned are left unowned."""
    Goal.objects.filter(organization=org, owner_id=user_id).update(owner=None)
    StrategyPillar.objects.filter(organization=org, owner_id=user_id).update(owner=None)


def org_settings_changed(*, org: Organization, changed: set[str]) -> None:
    """A new time zone moves every window; a new forecast window changes every forecast."""
    if "timezone" in changed:
        for goal in Goal.objects.filter(organization=org):
            set_goal_window(goal, org)
            goal.save(update_fields=["window_start_ts", "window_end_ts"])
        refresh_metric_windows(org, Metric.objects.filter(organization=org).select_related("goal"))
    if changed & {"timezone", "forecast_window_days"}:
        metrics_refresh(org=org, metric_ids=Metric.objects.filter(organization=org).values_list("id", flat=True))
        goals_refresh_progress(org=org)
    owe_rescore(org)


@transaction.atomic
def derived_values_refresh(*, org: Organization) -> None:
    """Recompute every stored derived value of the organization (after a release adds one:
    `manage.py refresh_derived_values`), under the same lock as the writes that change them."""
    lock_org(DERIVED_VALUES_LOCK, org.pk)
    metrics_refresh(org=org, metric_ids=Metric.objects.filter(organization=org).values_list("id", flat=True))
    goals_refresh_progress(org=org)
    owe_rescore(org)
