"""Webhook receivers on loopback, well-behaved and hostile, that record what reached them."""

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: How long a hanging or trickling receiver keeps a connection at most (bounded, so that
#: shutting down never waits on it for long).
HOLD_SECONDS = 30.0


@dataclass
class Receipt:
    at: float  # time.time() when the request's body had arrived
    webhook_id: str
    body: bytes


@dataclass
class Receiver:
    """One behaviour on one port. `received` holds every request whose body arrived."""

    behaviour: str
    delay: float = 0.0
    received: list[Receipt] = field(default_factory=list)
    in_progress: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{self.behaviour}"

    def ids(self) -> list[str]:
        with self.lock:
            return [receipt.webhook_id for receipt in self.received]

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append(Receipt(time.time(), self.headers.get("webhook-id", ""), body))
                    receiver.in_progress += 1
                try:
                    getattr(self, f"answer_{receiver.behaviour}")()
                finally:
                    with receiver.lock:
                        receiver.in_progress -= 1

            def answer_ok(self) -> None:
                self._status(204)

            def answer_slow(self) -> None:
                receiver.stopping.wait(receiver.delay)
                self._status(204)

            def answer_hang(self) -> None:
                receiver.stopping.wait(HOLD_SECONDS)
                self.close_connection = True

            def answer_error(self) -> None:
                self._status(500)

            def answer_redirect(self) -> None:
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def answer_gone(self) -> None:
                self._status(410)

            def answer_reset(self) -> None:
                # SO_LINGER with a zero timeout: close() sends a RST instead of a FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True

            def answer_short(self) -> None:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
                self.wfile.write(b'{"ok": tr')
                self.wfile.flush()
                self.close_connection = True

            def answer_trickle(self) -> None:
                deadline = time.monotonic() + HOLD_SECONDS
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                    if receiver.stopping.is_set() or time.monotonic() > deadline:
                        break
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        break
                    receiver.stopping.wait(0.5)
                self.close_connection = True

            def _status(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name=f"receiver-{self.behaviour}").start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
