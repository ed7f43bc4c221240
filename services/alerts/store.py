"""Alert lifecycle state in Redis: inactive → firing → resolved, one fingerprint at a time.

A transition is decided and recorded atomically (a Lua script) together with an outbox entry, so a crash
can neither lose a transition nor publish one twice: the outbox is drained to Kafka and Alertmanager, and
an evaluation replayed after a restart finds the state already moved and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from services.redis_text import text

# KEYS: alert hash, firing set, outbox stream. ARGV: fingerprint, outcome, event time (epoch s), data json.
_APPLY = """
local last = tonumber(redis.call('HGET', KEYS[1], 'last_at') or '-1')
local at = tonumber(ARGV[3])
if at < last then return 'stale' end
redis.call('HSET', KEYS[1], 'last_at', ARGV[3])
local status = redis.call('HGET', KEYS[1], 'status') or 'inactive'
local new = status
if ARGV[2] == 'breach' and status ~= 'firing' then new = 'firing'
elseif ARGV[2] == 'clear' and status == 'firing' then new = 'resolved' end
if new == status then return 'unchanged' end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'status', new, 'since', ARGV[3], 'data', ARGV[4])
if new == 'firing' then redis.call('SADD', KEYS[2], ARGV[1]) else redis.call('SREM', KEYS[2], ARGV[1]) end
redis.call('XADD', KEYS[3], '*', 'fingerprint', ARGV[1], 'seq', seq, 'status', new, 'at', ARGV[3], 'data', ARGV[4])
return new
"""


@dataclass(frozen=True)
class Transition:
    outbox_id: str
    fingerprint: str
    seq: int
    status: str  # "firing" or "resolved"
    at: float  # event time of the evaluation that caused it
    data: dict[str, Any]

    @property
    def transition_id(self) -> str:
        return f"{self.fingerprint}:{self.seq}"


class AlertStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._apply = redis.register_script(_APPLY)

    def _alert_key(self, fingerprint: str) -> str:
        return f"{self.prefix}:alert:{fingerprint}"

    @property
    def _firing_key(self) -> str:
        return f"{self.prefix}:firing"

    @property
    def _outbox_key(self) -> str:
        return f"{self.prefix}:outbox"

    async def apply(self, fingerprint: str, outcome: str, at: float, data: dict[str, Any]) -> str:
        """Apply one evaluation; returns the new status, 'unchanged' or 'stale'."""
        result: Any = await self._apply(
            keys=[self._alert_key(fingerprint), self._firing_key, self._outbox_key],
            args=[fingerprint, outcome, repr(at), json.dumps(data, ensure_ascii=False)],
        )
        return text(result)

    async def pending_transitions(self, count: int = 100) -> list[Transition]:
        entries: Any = await self.redis.xrange(self._outbox_key, count=count)
        out = []
        for entry_id, fields in entries or []:
            f = {text(k): text(v) for k, v in fields.items()}
            out.append(
                Transition(
                    outbox_id=text(entry_id),
                    fingerprint=f["fingerprint"],
                    seq=int(f["seq"]),
                    status=f["status"],
                    at=float(f["at"]),
                    data=json.loads(f["data"]),
                )
            )
        return out

    async def mark_delivered(self, transitions: list[Transition]) -> None:
        if transitions:
            await self.redis.xdel(self._outbox_key, *[t.outbox_id for t in transitions])

    async def firing(self) -> list[dict[str, Any]]:
        members: Any = await self.redis.smembers(self._firing_key)
        fingerprints = sorted(text(m) for m in members)
        alerts = []
        for fp in fingerprints:
            raw: Any = await self.redis.hgetall(self._alert_key(fp))
            fields = {text(k): text(v) for k, v in raw.items()}
            if fields.get("status") == "firing":
                alerts.append({"fingerprint": fp, "since": float(fields["since"]), **json.loads(fields["data"])})
        return alerts
