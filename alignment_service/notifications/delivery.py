"""One signed HTTP attempt at a webhook delivery, following the Standard Webhooks specification.

Written on the standard library's `http.client` so that the two things a webhook sender must
control are in our hands: redirects are never followed (a 3xx is a failure), and the host is
resolved once, checked by the SSRF guard and *pinned*: the TCP connection goes to the checked
address while the request keeps the original `Host` header and, for https, SNI and certificate
verification against the host name. No database access here: the caller records the outcome.
"""

import contextlib
import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from standardwebhooks import Webhook

from alignment_service.notifications import ssrf

USER_AGENT = "AlignmentService-Webhooks/1.0 (+https://www.standardwebhooks.com/)"


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    response_status: int | None = None
    error: str = ""
    #: The receiver answered 410 Gone: it asks never to be called again.
    gone: bool = False


def encode_body(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(*, secret: str, event_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt. `now` must be aware; it is signed in UTC
    (the library replaces any tzinfo with UTC, so a non-UTC datetime would sign the wrong instant)."""
    instant = now.astimezone(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(instant.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, instant, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def tls_context() -> ssl.SSLContext:
    """Certificate and host-name verification against the system's trusted CAs."""
    return ssl.create_default_context()


def _pinned_connection(scheme: str, host: str, port: int, address: str, timeout: float) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def connect_to_pinned_address(_: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        return socket.create_connection((address, port), timeout, source_address)

    # http.client opens its socket through this hook; TLS then wraps it with server_hostname=host.
    connection._create_connection = connect_to_pinned_address  # type: ignore[attr-defined]
    return connection


def _abort(connection: http.client.HTTPConnection, fired: threading.Event) -> None:
    """Cut a connection that outlived the attempt's deadline (e.g. a receiver trickling bytes)."""
    fired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def attempt(*, url: str, secret: str, event_id: str, payload: dict[str, Any], now: datetime) -> AttemptResult:
    """POST `payload` to `url` once, signed, within `WEBHOOK_TIMEOUT_SECONDS`; never raises."""
    timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        parts, host, port = ssrf.parse(url)
        address = ssrf.pick_address(host, port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    except ssrf.UnsafeURL as exc:
        return AttemptResult(succeeded=False, error=str(exc))

    body = encode_body(payload)
    headers = signed_headers(secret=secret, event_id=event_id, body=body, now=now)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _pinned_connection(parts.scheme, host, port, address, timeout)
    fired = threading.Event()
    deadline = threading.Timer(timeout, _abort, args=[connection, fired])
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        status = response.status
    except TimeoutError:
        return AttemptResult(succeeded=False, error=f"Timed out after {timeout:g} s.")
    except ssl.SSLError as exc:
        return AttemptResult(succeeded=False, error=f"TLS error: {exc.reason or type(exc).__name__}.")
    except (http.client.HTTPException, OSError) as exc:
        if fired.is_set():
            return AttemptResult(succeeded=False, error=f"Timed out after {timeout:g} s.")
        return AttemptResult(succeeded=False, error=f"Connection failed: {_describe(exc)}.")
    finally:
        deadline.cancel()
        connection.close()
    if fired.is_set():  # the cut socket reads as EOF, which http.client takes for the end of the headers
        return AttemptResult(succeeded=False, error=f"Timed out after {timeout:g} s.")
    return _classify(status)


def _classify(status: int) -> AttemptResult:
    if 200 <= status < 300:
        return AttemptResult(succeeded=True, response_status=status)
    if status == 410:
        return AttemptResult(succeeded=False, response_status=status, error="HTTP 410 Gone.", gone=True)
    if 300 <= status < 400:
        return AttemptResult(
            succeeded=False, response_status=status, error=f"HTTP {status}: redirects are not followed."
        )
    return AttemptResult(succeeded=False, response_status=status, error=f"HTTP {status}.")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
