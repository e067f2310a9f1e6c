"""Helpers for the webhook tests: a fake DNS and a real HTTP receiver on 127.0.0.1."""

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.db import transaction

from alignment_service.notifications.dispatch import webhooks_deliver_due
from alignment_service.notifications.webhooks import emit_event

PUBLIC_IP = "93.184.215.14"


class FakeDNS(dict[str, list[str]]):
    """host -> addresses. IP literals resolve to themselves; unknown names fail like NXDOMAIN."""

    lookups: list[str]

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            return [host]
        except OSError:
            pass
        if host not in self:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self[host])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the receiver answers next: `status`, after `delay` seconds, with `headers`."""

    port: int = 0
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    scheme: str = "http"
    #: When set, answer one header line every `trickle` seconds, for `trickle_lines` lines.
    trickle: float = 0.0
    trickle_lines: int = 20
    #: Misbehaviour after reading the request: "hang" (until released), "reset" (TCP RST),
    #: "cut_short" (a 200 promising 100 bytes, 10 sent), "trickle_body" (a 200 whose body
    #: comes a byte every 0.1 s), "endless_body" (a 200 streaming chunks until the sender hangs up).
    mode: str = ""
    #: Set at teardown: every hanging handler returns.
    released: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks/alignment?source=test"

    def url_for(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.port}/hooks/alignment"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            with receiver.lock:
                receiver.in_flight += 1
                receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
            try:
                self._answer()
            finally:
                with receiver.lock:
                    receiver.in_flight -= 1

        def _answer(self) -> None:
            if receiver.delay:
                time.sleep(receiver.delay)
            if receiver.mode:
                misbehave(self, receiver)
                return
            try:
                if receiver.trickle:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for n in range(receiver.trickle_lines):
                        self.wfile.write(f"x-slow-{n}: 1\r\n".encode())
                        self.wfile.flush()
                        time.sleep(receiver.trickle)
                    return
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the sender gave up (timeout test)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def hang_until_the_sender_gives_up(sock: socket.socket, released: threading.Event) -> None:
    """Answer nothing; return once the sender closes its end (or at teardown, or after 30 s)."""
    deadline = time.monotonic() + 30
    while not released.is_set() and time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable and not sock.recv(1, socket.MSG_PEEK):
            return


def misbehave(handler: BaseHTTPRequestHandler, receiver: Receiver) -> None:
    try:
        if receiver.mode == "hang":
            hang_until_the_sender_gives_up(handler.connection, receiver.released)
        elif receiver.mode == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
        elif receiver.mode == "cut_short":
            handler.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            handler.wfile.flush()
        elif receiver.mode in ("trickle_body", "endless_body"):
            handler.wfile.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            trickling = receiver.mode == "trickle_body"
            chunk = b"1\r\nx\r\n" if trickling else b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
            pause = 0.1 if trickling else 0.0
            for _ in range(10_000):  # bounded: 160 MB or 1000 s at most; the sender hangs up long before
                if receiver.released.is_set():
                    break
                handler.wfile.write(chunk)
                handler.wfile.flush()
                time.sleep(pause)
        handler.close_connection = True
    except OSError:
        pass  # the sender hung up


def start_server(receiver: Receiver, wrap: Callable[[socket.socket], socket.socket] | None = None) -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    server.block_on_close = False
    if wrap is not None:
        server.socket = wrap(server.socket)
    receiver.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def emit(org: Any, event_type: str = "goal.created", data: dict[str, Any] | None = None, key: str = "k1") -> int:
    with transaction.atomic():
        return emit_event(org=org, event_type=event_type, data=data or {"id": "g1"}, event_key=key)


def deliver() -> int:
    """What the beat job and the outbox kick run."""
    return webhooks_deliver_due()
