"""Shapes of the direction, pillars, cycles, goals, metrics and readings."""

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alignment_service.api.fields import (
    AwareDateTimeField,
    FiniteFloatField,
    IntegerField,
    OrgScopedRelatedField,
    SupportedDateField,
)
from alignment_service.api.serializers import DateOrderMixin, PrebuiltFieldsMixin
from goals import formulas, readings
from goals.models import (
    Cycle,
    DirectionVersion,
    Divergence,
    Goal,
    GoalStatus,
    Metric,
    MetricChange,
    MetricDirection,
    MetricRole,
    Reading,
    StrategyPillar,
)
from teams.api.serializers import org_member_field
from teams.models import Team


def org_related(model: type[Any], **kwargs: Any) -> OrgScopedRelatedField:
    return OrgScopedRelatedField(
        model=model, queryset_for_org=lambda org: model._default_manager.filter(organization=org), **kwargs
    )


HEALTH_CHOICES = [(value, value.replace("_", " ")) for value in formulas.HEALTH_VALUES]

# --- Direction --------------------------------------------------------------------------------


class DirectionValueSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, allow_blank=True, default="")


class DirectionSerializer(serializers.Serializer):
    vision = serializers.CharField()
    mission = serializers.CharField()
    values = DirectionValueSerializer(many=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.IntegerField(allow_null=True)

    @staticmethod
    def from_version(direction: DirectionVersion | None) -> dict[str, Any]:
        if direction is None:
            return {"vision": "", "mission": "", "values": [], "version": 0, "updated_at": None, "updated_by": None}
        return {
            "vision": direction.vision,
            "mission": direction.mission,
            "values": direction.values,
            "version": direction.version,
            "updated_at": direction.created_at,
            "updated_by": direction.created_by_id,
        }


class DirectionUpdateSerializer(serializers.Serializer):
    vision = serializers.CharField(max_length=5000, allow_blank=True)
    mission = serializers.CharField(max_length=5000, allow_blank=True)
    values = DirectionValueSerializer(many=True, max_length=50)  # type: ignore[call-arg]
    version = IntegerField(
        required=False, min_value=0, help_text="The version this change is based on; a stale one is refused (412)."
    )


# --- Pillars and cycles -----------------------------------------------------------------------


class PillarSerializer(serializers.ModelSerializer):
    class Meta:
        model = StrategyPillar
        fields = ["id", "title", "description", "team", "parent", "owner", "created_at", "updated_at"]


class PillarWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False)
    team = org_related(Team, allow_null=True, required=False, help_text="Null for a company-wide pillar.")
    parent = org_related(StrategyPillar, allow_null=True, required=False, help_text="The pillar this one refines.")  # type: ignore[assignment]
    owner = org_member_field(allow_null=True, required=False)


class CycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cycle
        fields = ["id", "name", "starts_on", "ends_on", "created_at"]


class CycleWriteSerializer(DateOrderMixin, serializers.Serializer):
    date_order = ("starts_on", "ends_on")
    name = serializers.CharField(max_length=100)
    starts_on = SupportedDateField()
    ends_on = SupportedDateField()


# --- Goals ------------------------------------------------------------------------------------


class GoalSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    strategies = serializers.SerializerMethodField()
    expected_progress = serializers.FloatField(read_only=True)
    health = serializers.ChoiceField(choices=HEALTH_CHOICES, read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id", "title", "description", "team", "owner", "parent", "strategies", "cycle", "starts_on", "due_on",
            "weight", "hypothesis", "status", "progress", "expected_progress", "health", "p_hit", "alignment_score",
            "version", "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_strategies(self, goal: Goal) -> list[str]:
        return goal.strategy_ids  # type: ignore[attr-defined,no-any-return]


class GoalWriteSerializer(DateOrderMixin, serializers.Serializer):
    date_order = ("starts_on", "due_on")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False)
    team = org_related(Team, allow_null=True, required=False, help_text="Null for a company goal.")
    owner = org_member_field(required=False, allow_null=True, help_text="Defaults to the requester.")
    parent = org_related(Goal, allow_null=True, required=False, help_text="The goal this one contributes to.")  # type: ignore[assignment]
    strategies = org_related(StrategyPillar, many=True, required=False)
    cycle = org_related(Cycle, allow_null=True, required=False)
    starts_on = SupportedDateField(required=False, allow_null=True, help_text="Defaults to the cycle's start.")
    due_on = SupportedDateField(required=False, allow_null=True, help_text="Defaults to the cycle's end.")
    weight = FiniteFloatField(required=False, min_value=0, max_value=1000, help_text="0 < weight ≤ 1000; default 1.")
    hypothesis = serializers.CharField(max_length=10_000, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=GoalStatus.choices, required=False)

    def validate_weight(self, value: float) -> float:
        if value <= 0:
            raise serializers.ValidationError("Must be greater than 0.", code="min_value")
        return value


# --- Metrics and readings ---------------------------------------------------------------------


class MetricSerializer(serializers.ModelSerializer):
    expected_progress = serializers.FloatField(read_only=True)
    health = serializers.ChoiceField(choices=HEALTH_CHOICES, read_only=True)
    stale = serializers.SerializerMethodField()

    class Meta:
        model = Metric
        fields = [
            "id", "goal", "name", "key", "unit", "direction", "baseline", "target", "weight", "starts_on", "due_on",
            "stale_after_days", "role", "threshold", "breached", "current", "progress", "expected_progress", "forecast",
            "forecast_low", "forecast_high", "p_hit", "health", "last_reading_at", "stale", "version", "created_at",
            "updated_at",
        ]  # fmt: skip

    breached = serializers.BooleanField(
        read_only=True, allow_null=True,
        help_text="Guardrails: whether the latest reading is on the wrong side of the threshold (null otherwise).",
    )  # fmt: skip

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_stale(self, metric: Metric) -> bool | None:
        return formulas.is_stale(
            stale_after_days=metric.stale_after_days, last_reading_ts=metric.last_reading_ts, now_ts=time_now()
        )


def time_now() -> float:
    return timezone.now().timestamp()


class MetricWriteSerializer(DateOrderMixin, serializers.Serializer):
    date_order = ("starts_on", "due_on")
    goal = org_related(Goal)
    name = serializers.CharField(max_length=200)
    key = serializers.SlugField(max_length=100, help_text="Unique in the organization; what integrations name.")
    unit = serializers.CharField(max_length=40, allow_blank=True, required=False)
    direction = serializers.ChoiceField(choices=MetricDirection.choices, required=False)
    baseline = FiniteFloatField()
    target = FiniteFloatField()
    weight = FiniteFloatField(required=False, min_value=0, max_value=1000)
    starts_on = SupportedDateField(required=False, allow_null=True, help_text="Defaults to the goal's start.")
    due_on = SupportedDateField(required=False, allow_null=True, help_text="Defaults to the goal's due date.")
    stale_after_days = IntegerField(required=False, allow_null=True, min_value=1, max_value=3650)
    role = serializers.ChoiceField(
        choices=MetricRole.choices,
        required=False,
        help_text="`guardrail`: a counter-metric that never counts towards progress and alarms when crossed.",
    )
    threshold = FiniteFloatField(
        required=False, allow_null=True,
        help_text="Guardrails only: the limit; safe at or above it for `increase`, at or below for `decrease`.",
    )  # fmt: skip
    reason = serializers.CharField(
        max_length=2000, allow_blank=True, required=False, write_only=True,
        help_text="Why the baseline or target moved; kept in the metric's history.",
    )  # fmt: skip

    def validate_weight(self, value: float) -> float:
        if value <= 0:
            raise serializers.ValidationError("Must be greater than 0.", code="min_value")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "baseline" in attrs and "target" in attrs and attrs["baseline"] == attrs["target"]:
            raise serializers.ValidationError(
                {"target": "Must differ from the baseline."}, code="baseline_equals_target"
            )
        return attrs


class MetricChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = MetricChange
        fields = [
            "id", "field", "old_value", "new_value", "old_date", "new_date", "reason", "changed_by", "approved_by",
            "changed_at",
        ]  # fmt: skip


def validate_observed_at(value: Any) -> Any:
    if value > readings.latest_observed_at():
        raise serializers.ValidationError(readings.too_far_ahead_message(), code="future")
    return value


class ReadingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reading
        fields = ["id", "metric", "value", "observed_at", "source", "note", "created_at", "updated_at"]


class ReadingWriteSerializer(serializers.Serializer):
    value = FiniteFloatField()
    observed_at = AwareDateTimeField(validators=[validate_observed_at])
    source = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")  # type: ignore[assignment]
    note = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")


class ReadingBatchItemSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="The metric's key or id.")
    value = FiniteFloatField()
    observed_at = AwareDateTimeField()
    source = serializers.CharField(max_length=100, required=False)  # type: ignore[assignment]


# Describes the batch for the schema; `goals.ingest` validates batches itself, for speed.
class ReadingBatchSerializer(serializers.Serializer):
    readings = serializers.ListField(child=ReadingBatchItemSerializer(), max_length=settings.BATCH_MAX_READINGS)


class ReadingBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


# --- Alignment tree ---------------------------------------------------------------------------


class TreePillarSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = StrategyPillar
        fields = ["id", "title", "team", "parent"]


class TreeGoalSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="goal.id")
    title = serializers.CharField(source="goal.title")
    team = serializers.UUIDField(source="goal.team_id", allow_null=True)
    status = serializers.CharField(source="goal.status")
    strategies = serializers.SerializerMethodField()
    progress = serializers.FloatField(source="goal.progress", allow_null=True)
    expected_progress = serializers.FloatField(source="goal.expected_progress")
    health = serializers.ChoiceField(source="goal.health", choices=HEALTH_CHOICES)
    p_hit = serializers.FloatField(source="goal.p_hit", allow_null=True)
    alignment_score = serializers.FloatField(source="goal.alignment_score", allow_null=True)
    children = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_strategies(self, node: dict[str, Any]) -> list[str]:
        return node["goal"]["strategies"]

    @extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/TreeGoal"}})
    def get_children(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        return [tree_node(child) for child in node["children"]]

    def to_representation(self, node: dict[str, Any]) -> dict[str, Any]:
        return tree_node(node)


def tree_node(node: dict[str, Any]) -> dict[str, Any]:
    """A node of `goals.selectors.alignment_tree` as `TreeGoalSerializer` declares it, written
    out: a tree is thousands of nodes, and DRF's loop costs a field call per value."""
    goal = node["goal"]
    return {
        "id": str(goal["id"]),
        "title": goal["title"],
        "team": _text_or_none(goal["team_id"]),
        "status": goal["status"],
        "strategies": goal["strategies"],
        "progress": _float_or_none(goal["progress"]),
        "expected_progress": float(goal["expected_progress"]),
        "health": goal["health"],
        "p_hit": _float_or_none(goal["p_hit"]),
        "alignment_score": _float_or_none(goal["alignment_score"]),
        "children": [tree_node(child) for child in node["children"]],
    }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


class TreeDivergenceSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Divergence
        fields = ["id", "team", "approach", "rationale", "success_metric", "success_value", "review_on"]


class AlignmentTreeSerializer(serializers.Serializer):
    direction = DirectionSerializer()
    pillars = TreePillarSerializer(many=True)
    goals = TreeGoalSerializer(many=True)
    divergences = TreeDivergenceSerializer(
        many=True, help_text="Teams with permission to diverge from the cascade, and how their path is judged."
    )
