"""FastAPI dependencies: who is calling, and may they."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services.auth.keys import ApiKey, KeyStore, Role

Authenticator = Callable[..., Awaitable[ApiKey]]

# Declared as security schemes, so the OpenAPI docs show how to authenticate (the "Authorize" button).
BEARER = HTTPBearer(
    auto_error=False,
    description="An API key from `citywatch keys create` (publisher, oncall or admin): `Authorization: Bearer <key>`",
)
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, for clients without Bearer")


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def require_role(store: KeyStore | Callable[[Request], KeyStore], *roles: Role) -> Authenticator:
    """A dependency answering 401 without a valid key and 403 when the key's role is not allowed. `store` is the key
    store, or how to find it from the request (routers declared before the app has one: `request.app.state`)."""

    def store_of(request: Request) -> KeyStore:
        return store if isinstance(store, KeyStore) else store(request)

    async def authenticate(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
        header: Annotated[str | None, Security(KEY_HEADER)],
    ) -> ApiKey:
        key = (bearer.credentials.strip() or None) if bearer is not None else header or presented_key(request)
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an API key is required: send `Authorization: Bearer <key>` (ask an admin: `citywatch keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        record = await store_of(request).authenticate(key)
        if record is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the API key is unknown or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if record.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"a {record.role} key may not do this; it needs one of: {', '.join(roles)}"
            )
        request.state.api_key = record
        return record

    return authenticate
