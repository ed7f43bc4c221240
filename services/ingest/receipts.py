"""Receipts in Redis: what the gateway and the worker decided about each reading a publisher sent under one receipt.

Keys, all under `<prefix>:receipt:<department>:<receipt>` and expiring `CITYWATCH_RECEIPT_TTL_S` after the last
change:
- (the key itself) hash of counts: `gateway.accepted`, `gateway.duplicate`, `gateway.rejected`, `worker.<outcome>`,
  and `feed`, `created_at`;
- `…:seen` hash of every record the worker judged (`topic:partition:offset` → outcome): a worker update replayed
  after a crash finds its records there and counts nothing twice;
- `…:reasons` list of the latest reasons for refusals (bounded).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from citywatch.schemas.receipt import COUNTED, NOT_REFUSED, WORKER_OUTCOMES, ReceiptUpdate
from services.redis_text import text

REASONS_KEPT = 50

# KEYS: counts, seen, reasons. ARGV: ttl, reasons kept, pairs of (source, outcome), "--", reasons (oldest first).
_FOLD = """
local i = 3
while ARGV[i] ~= '--' do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'worker.' .. ARGV[i + 1], 1)
  end
  i = i + 2
end
for j = i + 1, #ARGV do
  redis.call('LPUSH', KEYS[3], ARGV[j])
end
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[2]) - 1)
for k = 1, 3 do redis.call('EXPIRE', KEYS[k], tonumber(ARGV[1])) end
return 1
"""


class ReceiptView(BaseModel):
    """`GET /v1/receipts/{receipt}`: where a publisher's readings stand."""

    receipt: str
    feed: str | None
    accepted: int = Field(description="Readings the gateway accepted and published (or a direct publisher sent)")
    gateway_duplicates: int = Field(description="Readings the gateway had already published: not sent again")
    gateway_rejected: int = Field(description="Readings the gateway refused (422/403/409); see /v1/rejections")
    processed: int = Field(description="Readings the worker has judged, whatever its verdict")
    counted: int = Field(description="Readings folded into the indicators (new or corrections)")
    pending: int = Field(description="Accepted readings the worker has not judged yet")
    worker: dict[str, int] = Field(description="The worker's verdicts by outcome")
    refused: int = Field(description="Readings the worker refused (too late, invalid, conflicts, …)")
    reasons: list[str] = Field(description="The latest reasons for refusals, newest first")


class Receipts:
    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._fold = redis.register_script(_FOLD)

    def _key(self, department: str, receipt: str) -> str:
        return f"{self.prefix}:receipt:{department}:{receipt}"

    async def at_gateway(
        self, department: str, receipt: str, feed: str, *, accepted: int = 0, duplicate: int = 0, rejected: int = 0
    ) -> None:
        key = self._key(department, receipt)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "feed", feed)
            pipe.hsetnx(key, "created_at", str(time.time()))
            for name, n in (("accepted", accepted), ("duplicate", duplicate), ("rejected", rejected)):
                if n:
                    pipe.hincrby(key, f"gateway.{name}", n)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def fold(self, update: ReceiptUpdate) -> None:
        """Count the worker's verdicts of one update (once per record, however often the update is replayed)."""
        key = self._key(update.department, update.receipt)
        args: list[Any] = [self.ttl_s, REASONS_KEPT]
        for source, outcome in update.outcomes:
            args += [source, outcome]
        args.append("--")
        args += update.reasons  # pushed in order: the list reads newest first
        await self._fold(keys=[key, f"{key}:seen", f"{key}:reasons"], args=args)
        await self.redis.hsetnx(key, "feed", update.feed)

    async def view(self, department: str, receipt: str) -> ReceiptView | None:
        key = self._key(department, receipt)
        raw: Any = await self.redis.hgetall(key)
        if not raw:
            return None
        fields = {text(k): text(v) for k, v in raw.items()}
        reasons: Any = await self.redis.lrange(f"{key}:reasons", 0, REASONS_KEPT - 1)
        return view_of(receipt, fields, [text(r) for r in reasons])


def view_of(receipt: str, fields: dict[str, str], reasons: Sequence[str]) -> ReceiptView:
    """The publisher's view of a receipt's counts (pure)."""

    def count(name: str) -> int:
        return int(fields.get(name, "0") or 0)

    worker = {o: count(f"worker.{o}") for o in WORKER_OUTCOMES if count(f"worker.{o}")}
    processed = sum(worker.values())
    # A direct Kafka publisher's receipt has no gateway counts: what the worker saw is what was sent.
    accepted = count("gateway.accepted") or processed
    return ReceiptView(
        receipt=receipt,
        feed=fields.get("feed"),
        accepted=accepted,
        gateway_duplicates=count("gateway.duplicate"),
        gateway_rejected=count("gateway.rejected"),
        processed=processed,
        counted=sum(n for o, n in worker.items() if o in COUNTED),
        pending=max(0, accepted - processed),
        worker=worker,
        refused=sum(n for o, n in worker.items() if o not in NOT_REFUSED),
        reasons=list(reasons),
    )
