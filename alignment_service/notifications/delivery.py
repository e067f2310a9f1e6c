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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from standardwebhooks import Webhook

from alignment_service.notifications import ssrf

USER_AGENT = "AlignmentService-Webhooks/1.0 (+https://www.standardwebhooks.com/)"
#: How much of a 2xx answer's body is read (and then dropped): enough to see it end, no more.
RESPONSE_BODY_LIMIT = 64 * 1024


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


class _Deadline:
    """The attempt's total time budget (connect, send, headers and body together).

    A socket timeout bounds each read; a receiver that trickles one byte at a time would keep
    every read short and the attempt alive for ever, so a timer cuts the connection when the
    budget runs out, whatever phase it is in."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self.fired = threading.Event()
        self._sock: socket.socket | None = None
        #: Set once the connection exists: after a TLS handshake its `sock` is the wrapped socket.
        self.connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def remaining(self) -> float:
        left = self.expires_at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        """Cut `sock` when the deadline fires (at once if it already has)."""
        with self._lock:
            self._sock = sock
            if self.fired.is_set():
                _shutdown(sock)
                raise TimeoutError

    def _cut(self) -> None:
        with self._lock:
            self.fired.set()
            sock = getattr(self.connection, "sock", None) or self._sock
            if sock is not None:
                _shutdown(sock)

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _pinned_connection(
    scheme: str, host: str, port: int, address: str, deadline: _Deadline
) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=deadline.seconds, context=tls_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=deadline.seconds)

    def connect_to_pinned_address(_: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        sock = socket.create_connection((address, port), deadline.remaining(), source_address)
        deadline.watch(sock)
        return sock

    # http.client opens its socket through this hook; TLS then wraps it with server_hostname=host.
    connection._create_connection = connect_to_pinned_address  # type: ignore[attr-defined]
    deadline.connection = connection
    return connection


class _CutShort(Exception):
    def __init__(self, received: int) -> None:
        self.received = received


def _read_capped(response: http.client.HTTPResponse) -> None:
    """Read the body, at most `RESPONSE_BODY_LIMIT` bytes. A body that ends before its
    Content-Length (or a chunked body that stops mid-way) raises `_CutShort`: the receiver did
    not finish answering, so the delivery is not counted as received."""
    received = 0
    while received < RESPONSE_BODY_LIMIT:
        try:
            chunk = response.read(min(16 * 1024, RESPONSE_BODY_LIMIT - received))
        except http.client.IncompleteRead as exc:
            raise _CutShort(received + len(exc.partial)) from None
        if not chunk:
            if response.length:  # http.client's read(amt) returns b"" at EOF without complaint
                raise _CutShort(received)
            return
        received += len(chunk)


def attempt(*, url: str, secret: str, event_id: str, payload: dict[str, Any], now: datetime) -> AttemptResult:
    """POST `payload` to `url` once, signed, within `WEBHOOK_TIMEOUT_SECONDS` in all; never raises."""
    timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        parts, host, port = ssrf.parse(url)
        address = ssrf.pick_address(host, port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    except ssrf.UnsafeURL as exc:
        return AttemptResult(succeeded=False, error=str(exc))

    body = encode_body(payload)
    headers = signed_headers(secret=secret, event_id=event_id, body=body, now=now)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timed_out = AttemptResult(succeeded=False, error=f"Timed out after {timeout:g} s.")
    with _Deadline(timeout) as deadline:
        connection = _pinned_connection(parts.scheme, host, port, address, deadline)
        try:
            connection.request("POST", path, body=body.encode(), headers=headers)
            response = connection.getresponse()
            status = response.status
            if 200 <= status < 300:
                _read_capped(response)
        except _CutShort as exc:
            if deadline.fired.is_set():
                return timed_out
            return AttemptResult(
                succeeded=False, response_status=status,
                error=f"HTTP {status}, but the body was cut short after {exc.received} bytes.",
            )  # fmt: skip
        except TimeoutError:
            return timed_out
        except ssl.SSLError as exc:
            if deadline.fired.is_set():
                return timed_out
            return AttemptResult(succeeded=False, error=f"TLS error: {exc.reason or type(exc).__name__}.")
        except (http.client.HTTPException, OSError) as exc:
            if deadline.fired.is_set():
                return timed_out
            return AttemptResult(succeeded=False, error=f"Connection failed: {_describe(exc)}.")
        finally:
            connection.close()
        if deadline.fired.is_set():  # a cut socket reads as EOF, which http.client may take for an end
            return timed_out
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
