"""A real HTTP webhook receiver for the alert service's tests: counts what citywatch delivered."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import free_port


class WebhookReceiver:
    """Records every POST it gets; answers 503 while `failing` is set, `refuse_with` (a 4xx) when set. With a
    `secret` (Standard Webhooks, whsec_…) it checks each POST's signature and records whether it held."""

    def __init__(self, secret: str = "") -> None:
        self.calls: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []  # what arrived, to check signatures against
        self.attempts = 0
        self.failing = False
        self.refuse_with = 0
        self.secret = secret
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.failing:
                    self.send_response(503)
                elif receiver.refuse_with:
                    self.send_response(receiver.refuse_with)
                else:
                    call = {"key": self.headers["Idempotency-Key"], **json.loads(body)}
                    receiver.raw.append((body, dict(self.headers.items())))
                    if receiver.secret:
                        call["verified"] = receiver.verifies(body, dict(self.headers.items()))
                    receiver.calls.append(call)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verifies(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            Webhook(self.secret).verify(body, {k.lower(): v for k, v in headers.items()})
        except WebhookVerificationError:
            return False
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def statuses(self, fp: str) -> list[str]:
        return [c["status"] for c in self.calls if c["fingerprint"] == fp]

    def close(self) -> None:
        self.server.shutdown()
