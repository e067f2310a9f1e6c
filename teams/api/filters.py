import django_filters

from alignment_service.api.filters import UserIdFilter
from teams.models import Team, TeamKind


class TeamFilter(django_filters.FilterSet):
    parent = django_filters.UUIDFilter(field_name="parent_id")
    root = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull", help_text="Only top-level teams.")
    kind = django_filters.ChoiceFilter(choices=TeamKind.choices)
    lead = UserIdFilter(field_name="lead_id")

    class Meta:
        model = Team
        fields = ["parent", "root", "kind", "lead"]
