"""A real HTTP webhook receiver for the alert service's tests: counts what citywatch delivered."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import free_port


class WebhookReceiver:
    """Records every POST it gets; answers 503 while `failing` is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failing = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing:
                    self.send_response(503)
                else:
                    receiver.calls.append({"key": self.headers["Idempotency-Key"], **json.loads(body)})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def statuses(self, fp: str) -> list[str]:
        return [c["status"] for c in self.calls if c["fingerprint"] == fp]

    def close(self) -> None:
        self.server.shutdown()
