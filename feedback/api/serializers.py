"""Shapes of check-ins, assessments, feedback and replies."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alignment_service.api.fields import IntegerField
from alignment_service.api.serializers import CrossFieldChecksMixin, PrebuiltFieldsMixin
from feedback import selectors
from feedback.models import (
    CORRECTION_SUBJECTS,
    FEEDBACK_TARGETS,
    Assessment,
    CheckIn,
    CourseCorrection,
    Feedback,
    FeedbackKind,
    FeedbackReply,
    FeedbackStatus,
    LeadershipMode,
    Quadrant,
    ScoreJob,
    ScoreSnapshot,
    Severity,
    SubjectType,
)
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
    confidence = IntegerField(min_value=0, max_value=10, help_text="How sure you are the goal will be met.")
    blockers = serializers.CharField(max_length=10_000, allow_blank=True, required=False, default="")


class AssessmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assessment
        fields = [
            "id", "team", "assessor", "alignment", "confidence", "note", "quadrant", "recommended_mode", "created_at",
        ]  # fmt: skip


class AssessmentCreateSerializer(serializers.Serializer):
    team = org_related(Team)
    alignment = IntegerField(min_value=1, max_value=5, help_text="How well the team's direction matches.")
    confidence = IntegerField(
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


class FeedbackCreateSerializer(CrossFieldChecksMixin, serializers.Serializer):
    """Names a missing or unknown target together with any other problem."""

    target_type = serializers.ChoiceField(choices=FEEDBACK_TARGETS)
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

    def cross_field_errors(self, data: Any) -> dict[str, serializers.ErrorDetail]:
        error = self._target_error(data)
        return {"target_id": error} if error else {}

    def _target_error(self, data: Any) -> serializers.ErrorDetail | None:
        target_type = data.get("target_type")
        if target_type not in [value for value, _label in FEEDBACK_TARGETS] or target_type == SubjectType.DIRECTION:
            return None
        target_id = data.get("target_id")
        if not target_id:
            return serializers.ErrorDetail("Name the goal, team or pillar.", code="required")
        org = self.context.get("org")
        if (
            org is not None
            and selectors.feedback_target(org=org, target_type=target_type, target_id=str(target_id)) is None
        ):
            return serializers.ErrorDetail("No such target in this organization.", code="does_not_exist")
        return None


class FeedbackUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=FeedbackStatus.choices)


class FeedbackReplySerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = FeedbackReply
        fields = ["id", "feedback", "author", "anonymous", "body", "created_at"]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_author(self, reply: FeedbackReply) -> Any:
        if reply.anonymous and not self.context["access"].is_admin:
            return None
        return reply.author_id


class FeedbackReplyCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class ScoreSnapshotSerializer(serializers.ModelSerializer):
    components = serializers.DictField(
        child=serializers.FloatField(), help_text="Points per component; they add up to `score`."
    )

    class Meta:
        model = ScoreSnapshot
        fields = ["id", "subject_type", "subject_id", "score", "components", "computed_at"]


class ScoreJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ScoreJob
        fields = ["id", "status", "url", "created_at", "started_at", "finished_at"]

    def get_url(self, job: ScoreJob) -> str:
        request = self.context["request"]
        return request.build_absolute_uri(f"/api/v1/orgs/{job.organization.slug}/scores/jobs/{job.pk}/")


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as "" when unset, rendered as null (one encoding of "no value")."""

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(value) if value else None


class CourseCorrectionSerializer(PrebuiltFieldsMixin, serializers.ModelSerializer):
    recommended_mode = BlankAsNullChoiceField(choices=LeadershipMode.choices, allow_null=True, read_only=True)

    class Meta:
        model = CourseCorrection
        fields = [
            "id", "subject_type", "subject_id", "team", "trigger", "severity", "detail", "recommended_mode", "status",
            "assignee", "opened_by", "review_by", "extension_reason", "extension_count", "exit_criteria",
            "teaching_notes", "created_at", "acknowledged_at", "resolved_at", "resolution", "taught", "criteria_met",
            "caused_by",
        ]  # fmt: skip


class CorrectionSymptomSerializer(serializers.ModelSerializer):
    class Meta:
        model = CourseCorrection
        fields = [
            "id", "subject_type", "subject_id", "trigger", "severity", "detail", "status", "created_at", "resolved_at",
        ]  # fmt: skip


class CourseCorrectionDetailSerializer(CourseCorrectionSerializer):
    symptoms = CorrectionSymptomSerializer(many=True, read_only=True, help_text="The corrections this one explains.")

    class Meta(CourseCorrectionSerializer.Meta):
        fields = [*CourseCorrectionSerializer.Meta.fields, "symptoms"]


class CourseCorrectionCreateSerializer(serializers.Serializer):
    subject_type = serializers.ChoiceField(choices=CORRECTION_SUBJECTS)
    subject_id = serializers.UUIDField()
    detail = serializers.CharField(max_length=5000, help_text="What must change, and why.")
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.WARNING)
    review_by = serializers.DateField(required=False, allow_null=True)


class CourseCorrectionUpdateSerializer(serializers.Serializer):
    review_by = serializers.DateField(required=False, help_text="A new review date; needs `extension_reason`.")
    extension_reason = serializers.CharField(max_length=5000, required=False, help_text="Why it needs more time.")
    exit_criteria = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        help_text="Interventions only: what must be true to pull back.",
    )
    teaching_notes = serializers.CharField(
        max_length=5000, required=False, allow_blank=True,
        help_text="Interventions only: the frameworks the leader is teaching the team.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Name at least one field to change.", code="empty")
        if "review_by" in attrs and not attrs.get("extension_reason"):
            raise serializers.ValidationError(
                {"extension_reason": ["Moving the review date needs a reason."]}, code="required"
            )
        if "extension_reason" in attrs and "review_by" not in attrs:
            raise serializers.ValidationError({"review_by": ["A reason needs a new review date."]}, code="required")
        return attrs


class CourseCorrectionResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=5000)
    taught = serializers.CharField(
        max_length=5000, required=False, help_text="Interventions: what the team was taught (required for them)."
    )
    criteria_met = serializers.BooleanField(
        required=False, help_text="Interventions: whether the exit criteria were met (required for them)."
    )


class DashboardScoreSerializer(PrebuiltFieldsMixin, serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    trend = serializers.FloatField(allow_null=True, help_text="Change over the last 7 days, in points.")


class HealthCountsSerializer(PrebuiltFieldsMixin, serializers.Serializer):
    on_track = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    off_track = serializers.IntegerField()
    no_data = serializers.IntegerField()


class DashboardTeamSerializer(PrebuiltFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    trend = serializers.FloatField(allow_null=True)
    goals = HealthCountsSerializer()
    open_corrections = serializers.IntegerField()
    recommended_mode = serializers.ChoiceField(choices=LeadershipMode.choices, allow_null=True)
    alignment = serializers.IntegerField(allow_null=True, help_text="The latest assessment's alignment (1..5).")
    confidence = serializers.IntegerField(allow_null=True, help_text="The latest assessment's confidence (1..5).")
    quadrant = serializers.ChoiceField(choices=Quadrant.choices, allow_null=True)


class OpportunitySerializer(PrebuiltFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    team = serializers.UUIDField(source="team_id", allow_null=True)
    progress = serializers.FloatField()
    expected_progress = serializers.FloatField()


class DashboardSerializer(PrebuiltFieldsMixin, serializers.Serializer):
    org = DashboardScoreSerializer()
    teams = DashboardTeamSerializer(many=True)
    risks = CourseCorrectionSerializer(many=True)
    opportunities = OpportunitySerializer(many=True)
    leadership_signals = CourseCorrectionSerializer(many=True)


class CalibrationAuthorSerializer(serializers.Serializer):
    author = serializers.IntegerField(source="id", help_text="The author's user id.")
    username = serializers.CharField(source="name")
    checkins = serializers.IntegerField(help_text="Check-ins on ended goals.")
    goals = serializers.IntegerField(help_text="Ended goals they checked in on.")
    mean_confidence = serializers.FloatField(help_text="Mean confidence, as a probability (0..1).")
    hit_rate = serializers.FloatField(help_text="Mean outcome of those check-ins' goals (1 achieved, 0 missed).")
    brier = serializers.FloatField(help_text="Mean squared gap between confidence and outcome: 0 perfect, 0.25 a coin.")
    bias = serializers.FloatField(help_text="Mean confidence minus mean outcome: > 0 over-confident, < 0 under.")


class CalibrationTeamSerializer(serializers.Serializer):
    team = serializers.UUIDField(source="id")
    name = serializers.CharField()
    checkins = serializers.IntegerField()
    goals = serializers.IntegerField()
    mean_confidence = serializers.FloatField()
    hit_rate = serializers.FloatField()
    brier = serializers.FloatField()
    bias = serializers.FloatField()


class CalibrationSerializer(serializers.Serializer):
    authors = CalibrationAuthorSerializer(many=True)
    teams = CalibrationTeamSerializer(many=True)
