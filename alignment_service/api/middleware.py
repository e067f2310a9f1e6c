"""Request ids on every response and log line; a body-size guard that answers 413 in JSON;
writes that lost a race in the database run again; `304` for a read whose ETag matches; a NUL
in a header or query parameter is a 400."""

import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


class RequestIDMiddleware:
    """Echo a well-formed `X-Request-ID` from the client, or mint one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        # Not reset on the way out: Django logs the response ("Forbidden: …") after the
        # middleware chain returns, and the next request on this thread sets its own id.
        _request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIDLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class BodySizeLimitMiddleware:
    """Refuse a body larger than `MAX_REQUEST_BODY_BYTES` before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            from alignment_service.api.exceptions import error_body

            detail = f"The request body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes."
            return JsonResponse(error_body("client_error", "payload_too_large", detail), status=413)
        return self.get_response(request)


class TransientRetryMiddleware:
    """Run a request again when the database refused it for a lost race (the exception
    handler marks such an answer `retryable`: a 503 with `Retry-After`, nothing stored).

    Each service commits or rolls back as a whole, so a request refused this way left nothing
    behind and running it again is safe. The body is read first so that it can be parsed again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        request.body  # noqa: B018 - cached on the request, so every attempt can parse it
        response = self.get_response(request)
        for attempt in range(settings.TRANSIENT_RETRIES):
            if not getattr(response, "retryable", False):
                break
            logging.getLogger(__name__).info("Retrying %s %s after a lost race", request.method, request.path)
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not secrecy
            response = self.get_response(request)
        return response


class NotModifiedMiddleware:
    """`If-None-Match` naming the `ETag` of a read answers `304` without a body (only reads
    that set an `ETag` themselves take part; nothing else is hashed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD") or response.status_code != 200 or not response.has_header("ETag"):
            return response
        return get_conditional_response(request, etag=response["ETag"], response=response) or response


class RequestTextMiddleware:
    """Refuse a NUL in any header or query parameter (400 naming it): PostgreSQL cannot store
    one, and no header or filter has a use for it. Bodies are checked by the JSON parser."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from alignment_service.api.text import BAD_CHARACTER_MESSAGE, has_bad_characters

        named = [name for name, value in request.headers.items() if has_bad_characters(value)]
        named += [name for name, values in request.GET.lists() if any(map(has_bad_characters, [name, *values]))]
        if not named:
            return self.get_response(request)
        errors = [{"code": "bad_character", "detail": BAD_CHARACTER_MESSAGE, "attr": name} for name in named]
        return JsonResponse({"type": "validation_error", "errors": errors}, status=400)
