"""The webhook events as receivers get them, for the schema's `webhooks` section: the body of
every delivery is `{"type", "timestamp", "data"}`, and `data` depends on `type`.

The `data` shapes mirror what the apps emit (`goals.services`, `feedback.services`,
`feedback.engine`, `notifications.webhook_endpoints.webhook_ping`); `tests/notifications` checks real
payloads against these serializers.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers

from alignment_service.api.fields import ConstField
from alignment_service.notifications.models import WebhookEventType
from feedback.models import (
    CORRECTION_SUBJECTS,
    FEEDBACK_TARGETS,
    SCORE_SUBJECTS,
    AgendaItemKind,
    CorrectionStatus,
    FeedbackKind,
    LeadershipMode,
    Severity,
    Trigger,
)
from goals.models import GoalStatus


class CourseCorrectionEventData(serializers.Serializer):
    id = serializers.UUIDField()
    subject_type = serializers.ChoiceField(choices=CORRECTION_SUBJECTS)
    subject_id = serializers.CharField()
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    detail = serializers.CharField()
    recommended_mode = serializers.ChoiceField(choices=LeadershipMode.choices, allow_null=True)
    status = serializers.ChoiceField(choices=CorrectionStatus.choices)
    review_by = serializers.DateField(allow_null=True)
    resolution = serializers.CharField(allow_blank=True)


class CourseCorrectionWithSymptomsEventData(CourseCorrectionEventData):
    caused_by = serializers.UUIDField(allow_null=True, help_text="The cause, when this correction is a symptom.")
    symptoms = CourseCorrectionEventData(many=True, help_text="The corrections this cause explains.")


class ScoreThresholdCrossedEventData(serializers.Serializer):
    subject_type = serializers.ChoiceField(choices=SCORE_SUBJECTS)
    subject_id = serializers.CharField()
    score = serializers.FloatField()
    previous = serializers.FloatField()
    threshold = serializers.FloatField()
    direction = serializers.ChoiceField(choices=["above", "below"])


class GoalEventData(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    team = serializers.UUIDField(allow_null=True)
    owner = serializers.IntegerField(allow_null=True, help_text="A user id.")
    parent = serializers.UUIDField(allow_null=True)  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=GoalStatus.choices)
    starts_on = serializers.DateField()
    due_on = serializers.DateField()
    version = serializers.IntegerField()


class CheckInEventData(serializers.Serializer):
    id = serializers.UUIDField()
    goal = serializers.UUIDField()
    author = serializers.IntegerField(allow_null=True, help_text="A user id.")
    summary = serializers.CharField()
    confidence = serializers.IntegerField(min_value=1, max_value=10)
    blockers = serializers.CharField(allow_blank=True)


class FeedbackEventData(serializers.Serializer):
    optional_fields = ("author",)

    id = serializers.UUIDField()
    target_type = serializers.ChoiceField(choices=FEEDBACK_TARGETS)
    target_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=FeedbackKind.choices)
    body = serializers.CharField()
    anonymous = serializers.BooleanField()
    author = serializers.IntegerField(
        allow_null=True, required=False, help_text="A user id; absent when the feedback is anonymous."
    )


class DivergenceEventData(serializers.Serializer):
    id = serializers.UUIDField()
    team = serializers.UUIDField()
    approach = serializers.CharField()
    rationale = serializers.CharField()
    success_metric = serializers.UUIDField()
    success_value = serializers.FloatField()
    approved_by = serializers.IntegerField(help_text="A user id.")
    review_on = serializers.DateField()
    status = serializers.ChoiceField(choices=["active", "closed"])
    outcome = serializers.ChoiceField(choices=["met", "missed"], allow_null=True)
    outcome_value = serializers.FloatField(allow_null=True)


class GoalpostChangesEventData(serializers.Serializer):
    optional_fields = ("baseline", "target", "due_on")

    baseline = serializers.FloatField(required=False)
    target = serializers.FloatField(required=False)
    due_on = serializers.DateField(required=False)


class GoalpostProposalEventData(serializers.Serializer):
    id = serializers.UUIDField()
    metric = serializers.UUIDField()
    changes = GoalpostChangesEventData()
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "approved", "rejected"])
    proposed_by = serializers.IntegerField(allow_null=True, help_text="A user id.")
    decided_by = serializers.IntegerField(allow_null=True, help_text="A user id.")
    decision_note = serializers.CharField(allow_blank=True)


class DecisionEventData(serializers.Serializer):
    id = serializers.UUIDField()
    item_kind = serializers.ChoiceField(choices=AgendaItemKind.choices)
    item_id = serializers.CharField()
    team = serializers.UUIDField(allow_null=True)
    outcome = serializers.CharField()
    follow_up_owner = serializers.IntegerField(allow_null=True, help_text="A user id.")
    follow_up_on = serializers.DateField(allow_null=True)
    decided_by = serializers.IntegerField(allow_null=True, help_text="A user id.")


class PingEventData(serializers.Serializer):
    webhook_id = serializers.UUIDField()
    message = serializers.CharField()


EVENT_DATA: dict[str, type[serializers.Serializer]] = {
    WebhookEventType.COURSE_CORRECTION_OPENED: CourseCorrectionWithSymptomsEventData,
    WebhookEventType.COURSE_CORRECTION_ACKNOWLEDGED: CourseCorrectionWithSymptomsEventData,
    WebhookEventType.COURSE_CORRECTION_RESOLVED: CourseCorrectionWithSymptomsEventData,
    WebhookEventType.GUARDRAIL_BREACHED: CourseCorrectionWithSymptomsEventData,
    WebhookEventType.DIVERGENCE_RECORDED: DivergenceEventData,
    WebhookEventType.DIVERGENCE_CLOSED: DivergenceEventData,
    WebhookEventType.GOALPOST_PROPOSAL_CREATED: GoalpostProposalEventData,
    WebhookEventType.GOALPOST_PROPOSAL_APPROVED: GoalpostProposalEventData,
    WebhookEventType.GOALPOST_PROPOSAL_REJECTED: GoalpostProposalEventData,
    WebhookEventType.DECISION_RECORDED: DecisionEventData,
    WebhookEventType.SCORE_THRESHOLD_CROSSED: ScoreThresholdCrossedEventData,
    WebhookEventType.GOAL_CREATED: GoalEventData,
    WebhookEventType.GOAL_UPDATED: GoalEventData,
    WebhookEventType.CHECKIN_CREATED: CheckInEventData,
    WebhookEventType.FEEDBACK_CREATED: FeedbackEventData,
    WebhookEventType.WEBHOOK_PING: PingEventData,
}


def _envelope_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace(".", "_").split("_")) + "Event"


def _envelope(event_type: str, data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    fields: dict[str, Any] = {
        "type": ConstField(value=event_type),
        "timestamp": serializers.DateTimeField(help_text="When the event happened (the same on every attempt)."),
        "data": data(),
    }
    return type(_envelope_name(event_type), (serializers.Serializer,), fields)


EVENT_ENVELOPES = {event_type: _envelope(str(event_type), data) for event_type, data in EVENT_DATA.items()}

WebhookEventSerializer = PolymorphicProxySerializer(
    component_name="WebhookEvent",
    serializers={str(event_type): envelope for event_type, envelope in EVENT_ENVELOPES.items()},
    resource_type_field_name="type",
)


def _webhook(event_type: WebhookEventType) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=str(event_type),
        decorator=extend_schema(
            summary=event_type.label,
            description=(
                "Signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`); "
                "delivered at least once, so drop duplicates by `webhook-id`. See docs/webhooks.md."
            ),
            request=EVENT_ENVELOPES[event_type],
            responses={
                200: OpenApiResponse(description="Any 2xx within 10 seconds: received."),
                410: OpenApiResponse(description="Gone: the endpoint is disabled and gets nothing more."),
            },
        ),
    )


WEBHOOKS = [_webhook(event_type) for event_type in WebhookEventType]
