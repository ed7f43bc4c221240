"""Running an HTTP service with uvicorn, with a deadline for a request's headers.

uvicorn has no header timeout: a client sending one header byte every few seconds holds a connection (and a file
descriptor) forever, and its keep-alive timer is reset by every byte. Here a connection must deliver a complete
request head within `header_timeout_s` of being opened or of its previous response, or it is closed. Bodies are
bounded by the app itself (it reads them under a deadline and answers 408).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

log = logging.getLogger("citywatch.http")


def header_deadline(base: type[asyncio.Protocol], timeout_s: float) -> type[asyncio.Protocol]:
    """`base` (a uvicorn HTTP protocol) closing connections whose request head is not complete in time."""

    class HeaderDeadline(base):  # type: ignore[valid-type,misc]
        _deadline: asyncio.TimerHandle | None = None
        _cycle_when_armed: Any = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on a kept-alive connection gets the same time

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._cycle_when_armed = self.cycle
            self._deadline = asyncio.get_running_loop().call_later(timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            started = self.cycle is not self._cycle_when_armed  # a request head arrived since
            if not started and not self.transport.is_closing():
                log.info("closing a connection from %s: no complete request head within %g s", self.client, timeout_s)
                self.transport.close()

    HeaderDeadline.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadline


def serve(app: Any, host: str, port: int, header_timeout_s: float) -> None:
    """Run `app` until stopped (access logs off: the services log what matters themselves)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=header_deadline(AutoHTTPProtocol, header_timeout_s),
    )
