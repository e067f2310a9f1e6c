"""The OpenAPI schema as clients need it: every error response as a named component of the one
error shape, readable operation ids and summaries, response headers (ETag, rate limits), and
post-processing that makes generated types exact (required fields, one `org` parameter)."""

from typing import Any

from django.conf import settings
from drf_spectacular.plumbing import build_parameter_type
from drf_standardized_errors import openapi_serializers
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from inflection import camelize, singularize
from rest_framework import serializers

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# --- The error components --------------------------------------------------------------------
class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable; branch on this.")
    detail = serializers.CharField(help_text="For people; may change.")
    attr = serializers.CharField(allow_null=True, help_text="The field at fault (`items.3.value`), or null.")


class ErrorResponse400Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["validation_error", "client_error"])
    errors = ErrorSerializer(many=True, help_text="Every problem found, one entry each.")  # type: ignore[assignment]


def _client_error(name: str, code_help: str) -> type[serializers.Serializer]:
    response = type(
        f"ErrorResponse{name}Serializer",
        (serializers.Serializer,),
        {
            "type": serializers.ChoiceField(choices=openapi_serializers.ClientErrorEnum.choices),
            "errors": ErrorSerializer(many=True, help_text=code_help),
        },
    )
    return response


ErrorResponse409Serializer = _client_error(
    "409", "A refused change: `conflict`, `status_transition`, `in_use`, `delivery_in_progress`, …"
)
ErrorResponse412Serializer = _client_error("412", "`precondition_failed`: the `If-Match` version is stale.")
ErrorResponse413Serializer = _client_error("413", "`payload_too_large`.")
ErrorResponse422Serializer = _client_error("422", "`idempotency_key_reused` with another body.")


class Error503Serializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["retry"])
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ErrorResponse503Serializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=openapi_serializers.ServerErrorEnum.choices)
    errors = Error503Serializer(many=True)  # type: ignore[assignment]
    request_id = serializers.CharField()


ERROR_SCHEMAS = {
    "400": ErrorResponse400Serializer,
    "409": ErrorResponse409Serializer,
    "412": ErrorResponse412Serializer,
    "413": ErrorResponse413Serializer,
    "422": ErrorResponse422Serializer,
    "503": ErrorResponse503Serializer,
}


# --- Operation ids and summaries --------------------------------------------------------------
VERBS = {
    "list": "list",
    "create": "create",
    "retrieve": "get",
    "update": "replace",
    "partial_update": "update",
    "destroy": "delete",
}
SUMMARY_VERBS = {"list": "List", "create": "Create", "get": "Get", "replace": "Replace", "update": "Update"}
#: derived id -> the readable one, where the path alone says it badly.
OPERATION_ID_OVERRIDES = {
    "getMe": "getCurrentUser",
    "createAuthSignup": "signUp",
    "createAuthToken": "createToken",
    "deleteAuthToken": "revokeToken",
    "readNotification": "markNotificationRead",
    "createReadingBatch": "ingestReadings",
    "recomputeScore": "recomputeScores",
    "jobScoreJob": "getScoreJob",
    "versionsDirection": "listDirectionVersions",
    "historyMetric": "listMetricHistory",
    "createOrg": "createOrganization",
    "listOrgs": "listOrganizations",
    "getOrg": "getOrganization",
    "updateOrg": "updateOrganization",
    "deleteOrg": "deleteOrganization",
    "rotateSecretWebhook": "rotateWebhookSecret",
    "redeliverWebhookDelivery": "redeliverWebhookDelivery",
}


NOUNS = {"org": "organization", "orgs": "organizations", "api_key": "API key", "api_keys": "API keys",
         "check_in": "check-in", "check_ins": "check-ins", "strategy": "strategy pillar",
         "strategies": "strategy pillars"}  # fmt: skip
UNCOUNTABLE = {"feedback", "activity", "feedback reply"}
SUMMARIES = {
    "signUp": "Sign up and get a token",
    "createToken": "Exchange a username and password for a token",
    "revokeToken": "Revoke the token in use",
    "getCurrentUser": "The signed-in user",
    "markNotificationRead": "Mark a notification read",
    "createOrganization": "Create an organization (you become its owner)",
    "listDirectionVersions": "List the direction's versions, newest first",
    "replaceDirection": "Replace the direction (a new version)",
    "getDirection": "The current direction",
    "listMetricHistory": "List a metric's moved baselines and targets",
    "getScoreJob": "A score recompute job",
    "recomputeScores": "Recompute the organization's scores",
    "acknowledgeCourseCorrection": "Acknowledge a course correction",
    "resolveCourseCorrection": "Resolve a course correction",
    "pingWebhook": "Send a test event to a webhook endpoint",
    "rotateWebhookSecret": "Rotate a webhook endpoint's signing secret",
    "redeliverWebhookDelivery": "Attempt a delivery again, now",
    "createFeedbackReply": "Reply to feedback",
}


def _resource_tokens(path: str) -> list[str]:
    parts = [p for p in path.strip("/").split("/") if p and not p.startswith("{")]
    parts = [p for p in parts if p not in {"api", "v1"}]
    if len(parts) > 1 and parts[0] == "orgs":
        parts = parts[1:]
    return parts


class AutoSchema(StandardizedErrorsAutoSchema):
    def _action(self) -> str:
        action = getattr(self.view, "action", None)
        if action in VERBS or action is None:
            if self.method == "GET" and self._is_list_view():
                return "list"
            return action or self.method_mapping[self.method.lower()]
        return str(action)

    def _detail(self) -> bool:
        return self.path.rstrip("/").endswith("}") or not self._is_list_view()

    def _derived_name(self) -> tuple[str, list[str]]:
        """(verb, resource words), e.g. ("list", ["metric", "readings"])."""
        action = self._action()
        tokens = [t.replace("-", "_") for t in _resource_tokens(self.path)]
        custom = action not in VERBS
        if custom and tokens and tokens[-1] == action.replace("-", "_"):
            tokens = tokens[:-1]
        verb = action if custom else VERBS[action]
        words = [singularize(t) for t in tokens[:-1]]
        if tokens:
            last = tokens[-1]
            plural = verb == "list" or (verb == "create" and not self.path.rstrip("/").endswith("}"))
            words.append(last if plural and verb == "list" else singularize(last))
        return verb, words

    def get_operation_id(self) -> str:
        verb, words = self._derived_name()
        derived = camelize(verb, uppercase_first_letter=False) + "".join(camelize(w) for w in words)
        return OPERATION_ID_OVERRIDES.get(derived, derived)

    def get_summary(self) -> str | None:
        summary = super().get_summary()
        if summary:
            return str(summary)
        operation_id = self.get_operation_id()
        if operation_id in SUMMARIES:
            return SUMMARIES[operation_id]
        verb, words = self._derived_name()
        noun = " ".join(NOUNS.get(word, word.replace("_", " ")) for word in words)
        if verb == "list":
            return f"List {noun}"
        if not self.path.rstrip("/").endswith("}"):
            return f"{verb.replace('_', ' ').capitalize()} the {noun}"
        article = "" if noun in UNCOUNTABLE else ("an " if noun[:1] in "aeiou" else "a ")
        return f"{verb.replace('_', ' ').capitalize()} {article}{noun}"

    def _map_basic_serializer(self, serializer: Any, direction: str) -> Any:
        """A serializer renders every field it has: in a response each one is present (except
        those a serializer names in `optional_fields`, e.g. the author of anonymous feedback)."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and "properties" in schema:
            optional = set(getattr(serializer, "optional_fields", ()))
            schema["required"] = sorted(set(schema["properties"]) - optional)
        return schema

    # --- error responses ----------------------------------------------------------------------
    def _should_add_error_response(self, responses: dict[str, Any], status_code: str) -> bool:
        if status_code in responses:
            return False
        if status_code in {"409", "503"}:
            return self.method in WRITE_METHODS
        if status_code == "412":
            return self._versioned() and self.method in {"PUT", "PATCH"}
        if status_code == "413":
            return self.method in BODY_METHODS
        if status_code == "422":
            return any(p.name == "Idempotency-Key" for p in self._header_overrides())
        if status_code == "400" and self.method not in BODY_METHODS:
            return self._should_add_validation_error_response()
        if status_code == "415":
            return self.method in BODY_METHODS
        return bool(super()._should_add_error_response(responses, status_code))

    def _header_overrides(self) -> list[Any]:
        return [p for p in self.get_override_parameters() if getattr(p, "location", None) == "header"]

    def _versioned(self) -> bool:
        model = getattr(self.view, "model", None)
        fields = {f.name for f in model._meta.get_fields()} if model is not None else set()
        return "version" in fields and getattr(self.view, "action", None) in {"retrieve", "update", "partial_update"}

    # --- response headers ---------------------------------------------------------------------
    def _get_response_headers_for_code(self, status_code: Any, direction: str = "response") -> Any:
        headers = dict(super()._get_response_headers_for_code(status_code, direction))
        code = str(status_code)
        if self._versioned() and code in {"200", "304"}:
            headers["ETag"] = {"$ref": "#/components/headers/ETag"}
        if self.view.get_throttles() and code.startswith(("2", "3")):
            for name in RATE_LIMIT_HEADERS:
                headers[name] = {"$ref": f"#/components/headers/{name}"}
        return headers

    def _get_error_response_examples(self) -> list[Any]:
        return []  # one named response per status code says it (see `ERROR_RESPONSES`)

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction=direction)
        if direction == "response" and self._versioned() and self.method == "GET":
            headers = self._get_response_headers_for_code("304")
            responses["304"] = {
                "description": "Not modified: the `If-None-Match` version is current.",
                "headers": headers,
            }
        return responses

    def _get_parameters(self) -> Any:
        parameters = super()._get_parameters()
        if self._versioned() and self.method == "GET":
            parameters.append(
                build_parameter_type(
                    name="If-None-Match",
                    schema={"type": "string"},
                    location="header",
                    description='The `ETag` you hold, e.g. `"3"`: answered `304` without a body if it is current.',
                )
            )
        return parameters


RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
COMPONENT_HEADERS = {
    "ETag": {
        "schema": {"type": "string"},
        "description": 'The version of the object, e.g. `"3"`; send it back in `If-Match`.',
    },
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."},
    "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed in the current window."},
    "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left in the current window."},
    "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until the window resets."},
}
ORG_PARAMETER = {
    "name": "org",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "description": "The organization's slug.",
}


ERROR_RESPONSES = {
    "400": "Invalid input: every problem, each naming its field in `attr`.",
    "401": "Not signed in, or the token or API key is invalid or expired.",
    "403": "Signed in, but the role or the API key's scope does not allow this.",
    "404": "No such object in this organization (also what outsiders get).",
    "405": "This method is not allowed here.",
    "409": "Refused because of the current state (e.g. a status transition, or a concurrent change).",
    "412": "`If-Match` names a version that is no longer current; reload and retry.",
    "413": "The request body is too large.",
    "415": "Send `Content-Type: application/json`.",
    "422": "This `Idempotency-Key` was used with another body.",
    "429": "Too many requests; wait `Retry-After` seconds.",
    "503": "A concurrent change got in the way; retry after `Retry-After` seconds.",
}


# --- Post-processing ----------------------------------------------------------------------
def postprocess_schema(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components["headers"] = COMPONENT_HEADERS
    components.setdefault("parameters", {})["Org"] = ORG_PARAMETER
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            operation["parameters"] = [
                {"$ref": "#/components/parameters/Org"} if p.get("name") == "org" and p.get("in") == "path" else p
                for p in operation.get("parameters", [])
            ]
            if not operation["parameters"]:
                del operation["parameters"]
            if operation.get("security", [{}]) == [{}]:
                operation["security"] = []  # open to everyone, said explicitly
    _describe_webhooks(result.get("webhooks", {}))
    _share_error_responses(result)
    _nullable_as_type(result)
    result["info"]["description"] = describe_limits(result["info"].get("description", ""))
    return result


WEBHOOK_HEADERS = [
    ("webhook-id", "The event id, the same on every retry and redelivery: drop duplicates by it."),
    ("webhook-timestamp", "The attempt's time, in integer seconds since the epoch (UTC)."),
    ("webhook-signature", "`v1,` + base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`."),
]


def _describe_webhooks(webhooks: dict[str, Any]) -> None:
    for event_type, item in webhooks.items():
        operation = item["post"]
        operation["operationId"] = camelize(event_type.replace(".", "_"), uppercase_first_letter=False) + "Webhook"
        operation["security"] = []  # deliveries are signed (`webhook-signature`), not authenticated
        operation["parameters"] = [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": text}
            for name, text in WEBHOOK_HEADERS
        ]
        for response in operation["responses"].values():
            response.pop("headers", None)


def _share_error_responses(result: dict[str, Any]) -> None:
    """Each error status is one named response, `#/components/responses/Error<status>`."""
    shared = result["components"].setdefault("responses", {})
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for code, response in operation.get("responses", {}).items():
                if code not in ERROR_RESPONSES or "$ref" in response:
                    continue
                if code not in shared:
                    shared[code] = _error_response(code, response["content"]["application/json"]["schema"])
                operation["responses"][code] = {"$ref": f"#/components/responses/Error{code}"}
    result["components"]["responses"] = {f"Error{code}": shared[code] for code in sorted(shared)}


def _error_response(code: str, schema: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_RESPONSES[code],
        "content": {"application/json": {"schema": schema}},
    }
    if code in {"429", "503"}:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    if code == "429":
        response["headers"].update({name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS})
    return response


def _nullable_as_type(node: Any) -> None:
    """OpenAPI 3.1 says "no value" with the type `null` (DRF's paginators still write `nullable`)."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            del node["nullable"]
        for value in node.values():
            _nullable_as_type(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_as_type(value)


def describe_limits(description: str) -> str:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    return (
        f"{description}\n\n"
        "## Limits\n\n"
        f"- Signed-in users: {rates['user']} each; API keys: {rates['api_key']} each; "
        f"sign-up and token requests: {rates['credentials']} per client address.\n"
        "- Every throttled answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` "
        "(seconds); over the limit the answer is `429` with `Retry-After` (seconds).\n"
        f"- Lists answer 50 items by default, at most 200 (`?limit=`); a readings batch holds at most "
        f"{settings.BATCH_MAX_READINGS:,} readings; request bodies are at most "
        f"{settings.MAX_REQUEST_BODY_BYTES:,} bytes (`413` beyond).\n"
        "- A write that meets a concurrent one may answer `503` with code `retry` and `Retry-After: 1`: "
        "send the same request again.\n\n"
        "## Errors\n\n"
        'Every error has one shape: `{"type", "errors": [{"code", "detail", "attr"}]}`; branch on `code`, '
        "`attr` names the field at fault. Server errors add `request_id`."
    )
