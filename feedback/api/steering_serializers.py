"""Shapes of steering: goalpost proposals, divergences, decisions and the agenda."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alignment_service.api.fields import FiniteFloatField
from feedback.models import (
    AgendaItemKind,
    CourseCorrection,
    Feedback,
    GoalpostProposal,
    Severity,
    SteeringDecision,
)
from goals.api.serializers import org_related
from goals.models import Divergence, Metric
from teams.api.serializers import org_member_field
from teams.models import Team


class GoalpostChangesSerializer(serializers.Serializer):
    optional_fields = ("baseline", "target", "due_on")  # only what the proposal moves

    baseline = serializers.FloatField(required=False)
    target = serializers.FloatField(required=False)
    due_on = serializers.DateField(required=False)


class GoalpostProposalSerializer(serializers.ModelSerializer):
    changes = GoalpostChangesSerializer(read_only=True)

    class Meta:
        model = GoalpostProposal
        fields = [
            "id", "metric", "changes", "reason", "prompted_by_correction", "prompted_by_feedback", "status",
            "proposed_by", "decided_by", "decided_at", "decision_note", "created_at",
        ]  # fmt: skip


class GoalpostProposalCreateSerializer(serializers.Serializer):
    metric = org_related(Metric)
    baseline = FiniteFloatField(required=False)
    target = FiniteFloatField(required=False)
    due_on = serializers.DateField(required=False)
    reason = serializers.CharField(max_length=5000, help_text="Why the goalposts should move.")
    prompted_by_correction = org_related(
        CourseCorrection, required=False, allow_null=True, help_text="The busted-hypothesis correction behind it."
    )
    prompted_by_feedback = org_related(
        Feedback, required=False, allow_null=True, help_text="The challenge that prompted it."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not {"baseline", "target", "due_on"} & attrs.keys():
            raise serializers.ValidationError(
                {"baseline": ["Propose at least one of baseline, target and due_on."]}, code="required"
            )
        return attrs


class GoalpostDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class DivergenceSerializer(serializers.ModelSerializer):
    outcome = serializers.SerializerMethodField()

    class Meta:
        model = Divergence
        fields = [
            "id", "team", "approach", "rationale", "success_metric", "success_value", "approved_by", "review_on",
            "status", "outcome", "outcome_value", "closing_note", "recorded_by", "closed_by", "created_at",
            "closed_at",
        ]  # fmt: skip

    @extend_schema_field(
        serializers.ChoiceField(choices=Divergence.Outcome.choices, allow_null=True, help_text="null while active.")
    )
    def get_outcome(self, divergence: Divergence) -> str | None:
        return divergence.outcome or None


class DivergenceCreateSerializer(serializers.Serializer):
    team = org_related(Team)
    approach = serializers.CharField(max_length=5000, help_text="What the team does differently.")
    rationale = serializers.CharField(max_length=5000, help_text="Why it diverges.")
    success_metric = org_related(Metric, help_text="The metric that judges the divergence.")
    success_value = FiniteFloatField(help_text="The value the metric must reach (its direction's way).")
    approved_by = org_member_field(help_text="An admin or a member of a steering group above the team.")
    review_on = serializers.DateField(help_text="When the divergence is reviewed.")


class DivergenceCloseSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class SteeringDecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SteeringDecision
        fields = [
            "id", "item_kind", "item_id", "team", "outcome", "follow_up_owner", "follow_up_on", "follow_up_done_at",
            "decided_by", "created_at",
        ]  # fmt: skip


class SteeringDecisionCreateSerializer(serializers.Serializer):
    item_kind = serializers.ChoiceField(choices=AgendaItemKind.choices)
    item_id = serializers.CharField(max_length=64)
    outcome = serializers.CharField(max_length=5000, help_text="What was decided.")
    follow_up_owner = org_member_field(required=False, allow_null=True, help_text="Who follows it up.")
    follow_up_on = serializers.DateField(required=False, allow_null=True, help_text="By when.")


class AgendaItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AgendaItemKind.choices)
    id = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    team = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    due_on = serializers.DateField(allow_null=True)
    decisions = SteeringDecisionSerializer(many=True)
