"""What the gateway's routers depend on: the app's `Gateway` and the publisher's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.auth.dependencies import require_role
from services.auth.keys import ApiKey
from services.ingest.gateway import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(gateway_of)]
PublisherKey = Annotated[ApiKey, Depends(require_role(lambda request: gateway_of(request).keys, "publisher", "admin"))]
"""A publisher's (or an admin's) key: 401 without a valid one, 403 for another role."""
