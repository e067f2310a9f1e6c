"""Shapes of check-ins, assessments, feedback and replies."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedback.models import Assessment, CheckIn, Feedback, FeedbackKind, FeedbackReply, FeedbackStatus, TargetType
from goals.api.serializers import org_related
from goals.models import Goal
from teams.models import Team


class CheckInSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckIn
        fields = ["id", "goal", "author", "summary", "confidence", "blockers", "created_at"]


class CheckInCreateSerializer(serializers.Serializer):
    goal = org_related(Goal)
    summary = serializers.CharField(max_length=10_000)
    confidence = serializers.IntegerField(min_value=0, max_value=10, help_text="How sure you are the goal will be met.")
    blockers = serializers.CharField(max_length=10_000, allow_blank=True, required=False, default="")


class AssessmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assessment
        fields = [
            "id", "team", "assessor", "alignment", "confidence", "note", "quadrant", "recommended_mode", "created_at",
        ]  # fmt: skip


class AssessmentCreateSerializer(serializers.Serializer):
    team = org_related(Team)
    alignment = serializers.IntegerField(min_value=1, max_value=5, help_text="How well the team's direction matches.")
    confidence = serializers.IntegerField(
        min_value=1, max_value=5, help_text="Your confidence in the team's ability and direction."
    )
    note = serializers.CharField(max_length=10_000, allow_blank=True, required=False, default="")


class FeedbackSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    reply_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Feedback
        fields = [
            "id", "target_type", "target_id", "kind", "body", "anonymous", "status", "author", "reply_count",
            "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_author(self, feedback: Feedback) -> Any:
        """Hidden (null) from everyone but admins when the feedback is anonymous."""
        if feedback.anonymous and not self.context["access"].is_admin:
            return None
        return feedback.author_id


class FeedbackCreateSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=TargetType.choices)
    target_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The target's id; empty for the direction.",
    )
    kind = serializers.ChoiceField(choices=FeedbackKind.choices)
    body = serializers.CharField(max_length=10_000)
    anonymous = serializers.BooleanField(default=False, help_text="Hide your name from everyone but admins.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["target_type"] != TargetType.DIRECTION and not attrs.get("target_id"):
            raise serializers.ValidationError({"target_id": "Name the goal, team or pillar."}, code="required")
        return attrs


class FeedbackUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=FeedbackStatus.choices)


class FeedbackReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = FeedbackReply
        fields = ["id", "feedback", "author", "body", "created_at"]


class FeedbackReplyCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
