"""FastAPI dependencies: who is calling, and may they."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status

from services.auth.keys import ApiKey, KeyStore, Role

Authenticator = Callable[[Request], Awaitable[ApiKey]]


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def require_role(store: KeyStore, *roles: Role) -> Authenticator:
    """A dependency answering 401 without a valid key and 403 when the key's role is not allowed."""

    async def authenticate(request: Request) -> ApiKey:
        key = presented_key(request)
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an API key is required: send `Authorization: Bearer <key>` (ask an admin: `citywatch keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        record = await store.authenticate(key)
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
