"""drf-spectacular's settings: the schema's title, enum component names and hooks (nothing here
comes from the environment)."""

SPECTACULAR_SETTINGS = {
    "TITLE": "Alignment service API",
    "DESCRIPTION": (
        "Shared direction, the goal cascade, metrics and readings, feedback and explainable "
        "alignment scores for organizations of autonomous teams."
    ),
    "VERSION": "1.0.0",
    "LICENSE": {"name": "MIT", "identifier": "MIT"},
    "SERVERS": [{"url": "/", "description": "The server that serves this schema"}],
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "teams.models.Role",
        "ScopeEnum": "teams.models.ApiKeyScope",
        "TeamKindEnum": "teams.models.TeamKind",
        "InvitationStatusEnum": "teams.models.InvitationStatus",
        "FeedbackKindEnum": "feedback.models.FeedbackKind",
        "GoalStatusEnum": "goals.models.GoalStatus",
        "MetricRoleEnum": "goals.models.MetricRole",
        "AgendaItemKindEnum": "feedback.models.AgendaItemKind",
        "FeedbackStatusEnum": "feedback.models.FeedbackStatus",
        "ScoreSubjectTypeEnum": "feedback.models.SCORE_SUBJECTS",
        "CorrectionSubjectTypeEnum": "feedback.models.CORRECTION_SUBJECTS",
        "CourseCorrectionStatusEnum": "feedback.models.CorrectionStatus",
        "MetricDirectionEnum": "goals.models.MetricDirection",
        "ThresholdDirectionEnum": ["above", "below"],
        "WebhookEventTypeEnum": "alignment_service.notifications.models.WebhookEventType",
        "WebhookDeliveryStatusEnum": "alignment_service.notifications.models.WebhookDeliveryStatus",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
    },
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": "alignment_service.notifications.api.events.WEBHOOKS",
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "alignment_service.api.openapi.postprocess_schema",
    ],
}
