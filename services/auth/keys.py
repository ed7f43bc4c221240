"""The API key store. A key is shown once when created; Redis keeps only its SHA-256.

Keys look like `cw_<key id>_<secret>`: the id names the key in listings and revocations without revealing
it; the secret is 32 random bytes, so a plain SHA-256 (no slow hash) is enough to make a leaked store useless.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis

from services.redis_text import text

Role = Literal["publisher", "oncall", "admin"]
ROLES: tuple[Role, ...] = ("publisher", "oncall", "admin")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    department: str
    role: Role
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _by_digest(self, digest: str) -> str:
        return f"{self.prefix}:apikey:digest:{digest}"

    def _by_id(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:id:{key_id}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}:apikey:ids"

    async def create(self, department: str, role: Role = "publisher") -> tuple[str, ApiKey]:
        """A new key for a department; returns the key itself (shown once) and its record."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
        key_id = secrets.token_hex(4)
        key = f"cw_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id=key_id, department=department, role=role, created_at=time.time())
        digest = _digest(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            fields: Any = {**_fields(record), "digest": digest}  # redis-py's mapping type is invariant
            pipe.hset(self._by_id(key_id), mapping=fields)
            pipe.set(self._by_digest(digest), key_id)
            pipe.sadd(self._index, key_id)
            await pipe.execute()
        return key, record

    async def authenticate(self, key: str) -> ApiKey | None:
        """The active key record for a presented key, or None."""
        key_id: Any = await self.redis.get(self._by_digest(_digest(key)))
        if key_id is None:
            return None
        record = await self.get(text(key_id))
        return record if record is not None and record.active else None

    async def get(self, key_id: str) -> ApiKey | None:
        raw: Any = await self.redis.hgetall(self._by_id(key_id))
        if not raw:
            return None
        f = {text(k): text(v) for k, v in raw.items()}
        revoked = float(f["revoked_at"]) if f.get("revoked_at") else None
        return ApiKey(f["key_id"], f["department"], f["role"], float(f["created_at"]), revoked)  # type: ignore[arg-type]

    async def revoke(self, key_id: str) -> ApiKey:
        record = await self.get(key_id)
        if record is None:
            raise KeyError(f"no API key with id {key_id!r}; `citywatch keys list` shows the ids")
        digest: Any = await self.redis.hget(self._by_id(key_id), "digest")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._by_id(key_id), "revoked_at", repr(time.time()))
            if digest is not None:
                pipe.delete(self._by_digest(text(digest)))
            await pipe.execute()
        revoked = await self.get(key_id)
        assert revoked is not None
        return revoked

    async def rotate(self, key_id: str) -> tuple[str, ApiKey]:
        """Replace a key: a new one for the same department and role, the old one revoked."""
        old = await self.get(key_id)
        if old is None or not old.active:
            raise KeyError(f"no active API key with id {key_id!r}; `citywatch keys list` shows the ids")
        new = await self.create(old.department, old.role)
        await self.revoke(key_id)
        return new

    async def list(self) -> list[ApiKey]:
        ids: Any = await self.redis.smembers(self._index)
        records = [await self.get(text(i)) for i in ids]
        return sorted((r for r in records if r is not None), key=lambda r: (r.department, r.created_at))


def _fields(record: ApiKey) -> dict[str, str]:
    return {
        "key_id": record.key_id,
        "department": record.department,
        "role": record.role,
        "created_at": repr(record.created_at),
    }
