from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from alignment_service.admin_site import health_label, percent, rounded
from goals import formulas
from goals.models import (
    Cycle,
    DirectionVersion,
    Divergence,
    Goal,
    GoalStrategy,
    Metric,
    MetricChange,
    Reading,
    StrategyPillar,
)
from goals.selectors import with_health


@admin.register(DirectionVersion)
class DirectionVersionAdmin(admin.ModelAdmin):
    list_display = ["organization", "version", "created_at", "created_by"]
    list_filter = ["organization"]
    search_fields = ["vision", "mission", "organization__name"]
    list_select_related = ["organization", "created_by"]
    readonly_fields = ["organization", "version", "created_at", "created_by"]


@admin.register(StrategyPillar)
class StrategyPillarAdmin(admin.ModelAdmin):
    list_display = ["title", "organization", "team", "parent", "owner"]
    list_filter = ["organization", ("team", admin.EmptyFieldListFilter)]
    search_fields = ["title", "description", "team__name"]
    list_select_related = ["organization", "team", "parent", "owner"]
    autocomplete_fields = ["team", "parent", "owner"]


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "starts_on", "ends_on"]
    list_filter = ["organization"]
    search_fields = ["name"]


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, value.replace("_", " ")) for value in formulas.HEALTH_VALUES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(health=self.value()) if self.value() else queryset


class GoalStrategyInline(admin.TabularInline):
    model = GoalStrategy
    extra = 0
    fields = ["pillar"]
    autocomplete_fields = ["pillar"]


class MetricInline(admin.TabularInline):
    model = Metric
    extra = 0
    fields = ["name", "key", "baseline", "target", "current_shown", "progress_shown"]
    readonly_fields = ["name", "key", "baseline", "target", "current_shown", "progress_shown"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="current")
    def current_shown(self, obj: Metric) -> str:
        return rounded(obj.current)

    @admin.display(description="progress")
    def progress_shown(self, obj: Metric) -> str:
        return percent(obj.progress)


class HealthAnnotatedAdmin(admin.ModelAdmin):
    """Lists annotated by the database with expected progress and health, as the API is."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return with_health(super().get_queryset(request))

    @admin.display(description="health", ordering="health")
    def health(self, obj: Any) -> str:
        return health_label(obj.health)

    @admin.display(description="expected", ordering="expected_progress")
    def expected(self, obj: Any) -> str:
        return percent(obj.expected_progress)

    @admin.display(description="progress", ordering="progress")
    def progress_shown(self, obj: Any) -> str:
        return percent(obj.progress)


@admin.register(Goal)
class GoalAdmin(HealthAnnotatedAdmin):
    """Goals are written through the API (which keeps progress and windows derived); the
    admin reads them."""

    list_display = [
        "title", "team", "status", "progress_shown", "expected", "health", "due_on", "organization",
    ]  # fmt: skip
    list_filter = ["organization", "status", HealthFilter, "team", ("parent", admin.EmptyFieldListFilter)]
    search_fields = ["title", "description", "hypothesis", "team__name", "parent__title"]
    list_select_related = ["organization", "team", "parent"]
    readonly_fields = [
        "organization", "team", "owner", "parent", "cycle", "starts_on", "due_on", "weight", "status",
        "progress_shown", "p_hit", "expected", "health", "score", "version", "created_at", "updated_at",
    ]  # fmt: skip
    fields = ["title", "description", "hypothesis", *readonly_fields]
    inlines = [GoalStrategyInline, MetricInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="alignment score")
    def score(self, obj: Goal) -> str:
        return rounded(obj.alignment_score, 1)


class RecentReadingInline(admin.TabularInline):
    model = Reading
    extra = 0
    max_num = 0
    fields = ["observed_at", "value", "source", "note"]
    readonly_fields = ["observed_at", "value", "source", "note"]
    can_delete = False
    ordering = ["-observed_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reading]:
        recent = super().get_queryset(request).order_by("-observed_at").values_list("pk", flat=True)[:20]
        return super().get_queryset(request).filter(pk__in=list(recent)).order_by("-observed_at")


class MetricChangeInline(admin.TabularInline):
    model = MetricChange
    extra = 0
    max_num = 0
    readonly_fields = [
        "field", "old_value", "new_value", "old_date", "new_date", "reason", "changed_by", "approved_by", "changed_at",
    ]  # fmt: skip
    fields = [*readonly_fields]
    can_delete = False


@admin.register(Metric)
class MetricAdmin(HealthAnnotatedAdmin):
    list_display = [
        "name", "key", "organization", "goal", "current_shown", "target_shown", "progress_shown", "expected", "health",
        "last_reading_at",
    ]  # fmt: skip
    list_filter = ["organization", "role", "direction", HealthFilter]
    search_fields = ["name", "key", "goal__title"]
    list_select_related = ["organization", "goal"]
    readonly_fields = [
        "organization", "goal", "key", "direction", "baseline", "target", "weight", "starts_on", "due_on",
        "role", "threshold", "current_shown", "last_reading_at", "forecast_shown", "forecast_low", "forecast_high",
        "p_hit", "progress_shown", "expected", "health", "version", "created_at", "updated_at",
    ]  # fmt: skip
    fields = ["name", "unit", "stale_after_days", *readonly_fields]
    inlines = [MetricChangeInline, RecentReadingInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="current", ordering="current")
    def current_shown(self, obj: Metric) -> str:
        return rounded(obj.current)

    @admin.display(description="target", ordering="target")
    def target_shown(self, obj: Metric) -> str:
        return rounded(obj.target)

    @admin.display(description="forecast")
    def forecast_shown(self, obj: Metric) -> str:
        return rounded(obj.forecast)


@admin.register(Reading)
class ReadingAdmin(admin.ModelAdmin):
    list_display = ["metric", "observed_at", "value", "source", "organization"]
    list_filter = ["organization", "source"]
    search_fields = ["metric__key", "metric__name", "source"]
    list_select_related = ["metric", "organization"]
    date_hierarchy = "observed_at"
    readonly_fields = ["organization", "metric", "observed_at", "value", "source", "note", "created_at", "updated_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Divergence)
class DivergenceAdmin(admin.ModelAdmin):
    """Divergences are recorded and closed through the API (which checks the assessment and
    the approver); the admin reads them."""

    list_display = ["team", "status", "outcome", "review_on", "approved_by", "organization"]
    list_filter = ["organization", "status", "outcome"]
    search_fields = ["approach", "rationale", "team__name"]
    list_select_related = ["team", "approved_by", "organization"]
    readonly_fields = [f.name for f in Divergence._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
