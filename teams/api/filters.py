from typing import Any

import django_filters

from teams import selectors
from teams.models import Invitation, InvitationStatus, Team, TeamKind


class TeamFilter(django_filters.FilterSet):
    parent = django_filters.UUIDFilter(field_name="parent_id")
    root = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull", help_text="Only top-level teams.")
    kind = django_filters.ChoiceFilter(choices=TeamKind.choices)
    lead = django_filters.NumberFilter(field_name="lead_id")

    class Meta:
        model = Team
        fields = ["parent", "root", "kind", "lead"]


class InvitationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=InvitationStatus.choices,
        method="by_status",
        help_text="`pending` excludes expired invitations; `expired` is a pending one past its expiry.",
    )

    class Meta:
        model = Invitation
        fields = ["status"]

    def by_status(self, queryset: Any, name: str, value: str) -> Any:
        return selectors.invitations_filter_status(queryset, value)
