"""API keys against the real Redis: stored hashed, shown once, revocable and rotatable."""

from __future__ import annotations

import asyncio
import hashlib

from redis.asyncio import Redis

from services.auth.keys import KeyStore
from tests.conftest import Isolation


def test_key_lifecycle(isolation: Isolation) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(isolation.stack.redis_url)
        store = KeyStore(redis, isolation.id)
        try:
            key, record = await store.create("environment")
            assert (await store.authenticate(key)) == record
            assert await store.authenticate(key + "x") is None

            # Only the hash is stored: the key itself appears nowhere in Redis.
            stored = [await redis.dump(k) for k in await redis.keys(f"{isolation.id}:apikey:*")]
            assert all(key.encode() not in (blob or b"") for blob in stored)
            assert await redis.exists(f"{isolation.id}:apikey:digest:{hashlib.sha256(key.encode()).hexdigest()}")

            new_key, new_record = await store.rotate(record.key_id)
            assert await store.authenticate(key) is None, "the rotated-out key stops working at once"
            assert (await store.authenticate(new_key)) == new_record
            assert new_record.department == "environment" and new_record.role == "publisher"

            await store.revoke(new_record.key_id)
            assert await store.authenticate(new_key) is None
            listed = {(r.key_id, r.active) for r in await store.list()}
            assert listed == {(record.key_id, False), (new_record.key_id, False)}
        finally:
            await redis.aclose()

    asyncio.run(scenario())
