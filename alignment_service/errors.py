"""Domain errors raised by services; the API renders each as one error shape."""

from rest_framework import status


class ApplicationError(Exception):
    """A refused operation with a stable `code` that clients can branch on."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, attr: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.attr = attr


class ValidationFailed(ApplicationError):
    default_code = "invalid"


class PermissionDenied(ApplicationError):
    status_code: int = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"


class NotFound(ApplicationError):
    status_code: int = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class Conflict(ApplicationError):
    status_code: int = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PreconditionFailed(ApplicationError):
    """A write based on a version that has changed since (a lost update refused)."""

    status_code: int = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
