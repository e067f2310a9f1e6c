"""What the all-hands page shows, as plain JSON: the dashboard's own response (the selectors and
serializer of `GET /orgs/{org}/dashboard/`), the score history over the cycle, and the names
the page needs for the subjects it mentions. The live page renders it; a frozen all-hands
snapshot stores it and renders the same data forever."""

import json
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from feedback.api.serializers import DashboardSerializer
from feedback.dashboard import current_cycle, dashboard, score_history
from feedback.models import SubjectType
from goals.models import Goal
from teams.models import Organization

HISTORY_WITHOUT_CYCLE = timedelta(days=365)


def allhands_payload(*, org: Organization, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    board = DashboardSerializer(dashboard(org=org)).data
    cycle = current_cycle(org=org)
    since = (
        datetime.combine(cycle.starts_on, datetime.min.time(), tzinfo=now.tzinfo)
        if cycle
        else now - HISTORY_WITHOUT_CYCLE
    )
    series = score_history(org=org, since=since, until=now)
    goal_ids = {
        c["subject_id"]
        for c in [*board["risks"], *board["leadership_signals"]]
        if c["subject_type"] == SubjectType.GOAL
    }
    payload = {
        "org": {"id": org.pk, "name": org.name, "slug": org.slug},
        "generated_at": now,
        "cycle": {"name": cycle.name, "starts_on": cycle.starts_on, "ends_on": cycle.ends_on} if cycle else None,
        "dashboard": board,
        "history": {f"{kind}:{subject_id}": points for (kind, subject_id), points in series.items()},
        "goal_titles": {
            str(pk): title
            for pk, title in Goal.objects.filter(organization=org, pk__in=goal_ids).values_list("id", "title")
        },
    }
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
