import django_filters
from django.db.models import Q, QuerySet

from alignment_service.api.filters import AwareDateTimeFilter, UserIdFilter
from goals import formulas
from goals.models import Goal, GoalStatus, Metric, Reading, StrategyPillar

HEALTH = [(value, value) for value in formulas.HEALTH_VALUES]


class PillarFilter(django_filters.FilterSet):
    team = django_filters.UUIDFilter(field_name="team_id")
    company = django_filters.BooleanFilter(field_name="team", lookup_expr="isnull", help_text="Only company pillars.")
    parent = django_filters.UUIDFilter(field_name="parent_id")

    class Meta:
        model = StrategyPillar
        fields = ["team", "company", "parent"]


class GoalFilter(django_filters.FilterSet):
    team = django_filters.UUIDFilter(field_name="team_id")
    company = django_filters.BooleanFilter(field_name="team", lookup_expr="isnull", help_text="Only company goals.")
    owner = UserIdFilter(field_name="owner_id")
    parent = django_filters.UUIDFilter(field_name="parent_id")
    cycle = django_filters.UUIDFilter(field_name="cycle_id")
    status = django_filters.MultipleChoiceFilter(choices=GoalStatus.choices)
    health = django_filters.MultipleChoiceFilter(choices=HEALTH)
    strategy = django_filters.UUIDFilter(field_name="strategy_links__pillar_id", distinct=True)
    search = django_filters.CharFilter(method="search_text", help_text="Words in the title, description or hypothesis.")

    class Meta:
        model = Goal
        fields = ["team", "company", "owner", "parent", "cycle", "status", "health", "strategy", "search"]

    def search_text(self, queryset: QuerySet[Goal], name: str, value: str) -> QuerySet[Goal]:
        for word in value.split()[:10]:
            queryset = queryset.filter(
                Q(title__icontains=word) | Q(description__icontains=word) | Q(hypothesis__icontains=word)
            )
        return queryset


class MetricFilter(django_filters.FilterSet):
    goal = django_filters.UUIDFilter(field_name="goal_id")
    team = django_filters.UUIDFilter(field_name="goal__team_id")
    key = django_filters.CharFilter()
    health = django_filters.MultipleChoiceFilter(choices=HEALTH)

    class Meta:
        model = Metric
        fields = ["goal", "team", "key", "health"]


class ReadingFilter(django_filters.FilterSet):
    since = AwareDateTimeFilter(field_name="observed_at", lookup_expr="gte")
    until = AwareDateTimeFilter(field_name="observed_at", lookup_expr="lt")

    class Meta:
        model = Reading
        fields = ["since", "until"]
