"""One error shape for every 4xx and 5xx:
`{"type", "errors": [{"code", "detail", "attr"}]}`, plus `request_id` on server errors.

DRF calls drf-standardized-errors' own `exception_handler` (so that its AutoSchema documents
the error responses); that handler runs `ErrorHandler` (`EXCEPTION_HANDLER_CLASS`), whose
`as_api_exception` is the one place where domain and database errors become HTTP errors.
"""

import logging
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from drf_standardized_errors.formatter import ExceptionFormatter
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

from alignment_service.api.middleware import current_request_id
from alignment_service.db import is_database_unavailable, is_transient_db_error, violated_constraint
from alignment_service.errors import ApplicationError

logger = logging.getLogger(__name__)


class ApplicationAPIException(exceptions.APIException):
    def __init__(self, error: ApplicationError) -> None:
        self.status_code = error.status_code
        super().__init__(detail=error.detail, code=error.code)


class ConcurrentConflict(exceptions.APIException):
    """A declared constraint (unique, foreign key, check) refused a write that raced another one."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with a concurrent change; reload and retry."
    default_code = "conflict"


class RetryLater(exceptions.APIException):
    """A write lost a race inside the database (deadlock, serialization failure, lock
    timeout); nothing of it was stored. `TransientRetryMiddleware` runs it again first."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is busy with a concurrent change; nothing was stored. Retry shortly."
    default_code = "retry"
    wait = 1


class DatabaseUnavailable(exceptions.APIException):
    """The database cannot be reached (down, restarting, out of connections); nothing was stored."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; nothing was stored. Retry shortly."
    default_code = "database_unavailable"
    wait = 5


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, ApplicationError):
        if exc.status_code == status.HTTP_400_BAD_REQUEST:
            return exceptions.ValidationError({exc.attr or "non_field_errors": [exc.detail]}, code=exc.code)
        return ApplicationAPIException(exc)
    if isinstance(exc, DjangoValidationError):
        detail = get_error_detail(exc)
        if isinstance(detail, dict) and NON_FIELD_ERRORS in detail:
            detail["non_field_errors"] = detail.pop(NON_FIELD_ERRORS)
        return exceptions.ValidationError(detail if isinstance(detail, dict) else {"non_field_errors": detail})
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if is_transient_db_error(exc):
        return RetryLater()
    if is_database_unavailable(exc):
        return DatabaseUnavailable()
    if isinstance(exc, IntegrityError) and violated_constraint(exc) is not None:
        return ConcurrentConflict()
    return exc


class ErrorHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        return super().convert_known_exceptions(as_api_exception(exc))

    def get_response(self, exc: exceptions.APIException, data: dict[str, Any]) -> Response:
        response = super().get_response(exc, data)
        response.retryable = isinstance(exc, RetryLater)  # type: ignore[attr-defined]
        return response

    def report_exception(self, exc: exceptions.APIException, response: Response) -> None:
        if isinstance(exc, RetryLater):  # a lost race, not a bug: no error report
            logger.info("A write lost a race in the database: %r", self.exc)
            return
        if isinstance(exc, DatabaseUnavailable):  # an outage, not a bug
            logger.warning("The database is unavailable: %r", self.exc)
            return
        if isinstance(self.exc, IntegrityError):  # no declared constraint refused it: a bug
            logger.error("Integrity error naming no constraint (request %s)", current_request_id(), exc_info=self.exc)
        super().report_exception(exc, response)


class ErrorFormatter(ExceptionFormatter):
    def format_error_response(self, error_response: Any) -> Any:
        body = super().format_error_response(error_response)
        if error_response.type == "server_error":
            body["request_id"] = current_request_id()
        return body


def error_body(error_type: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": error_type, "errors": [{"code": code, "detail": detail, "attr": attr}]}
    if error_type == "server_error":
        body["request_id"] = current_request_id()
    return body


def json_error(status_code: int, code: str, detail: str) -> JsonResponse:
    error_type = "server_error" if status_code >= 500 else "client_error"
    return JsonResponse(error_body(error_type, code, detail), status=status_code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(400, "bad_request", "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(403, "permission_denied", "You do not have permission to perform this action.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(404, "not_found", "Not found.")


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error(500, "error", "A server error occurred.")
