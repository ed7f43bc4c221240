"""Alert state in Redis: the pure lifecycle (`citywatch.rule_engine.lifecycle`) applied one fingerprint at a time.

Each evaluation is applied in one optimistic transaction (WATCH the alert's hash, compute the step in Python,
MULTI/EXEC the new state together with its outbox entry), so a crash can neither lose a transition nor record
it twice: the outbox is drained to Kafka and the notifiers, and an evaluation replayed after a restart finds
the state already moved and changes nothing.

Keys (all under the service's prefix):
- `alert:<fingerprint>`  hash: lifecycle state, the latest evaluation's data, ack, silence and annotation ids
- `active`               set of fingerprints pending or firing
- `outbox`               stream of transitions and amendments not yet published
- `webhooks:<receiver>`  per webhook receiver: the published transitions it has not yet taken
- `history:site:<site>`, `history:rule:<rule>`  streams of every transition and amendment, trimmed by age
- `maintenance`          sorted set of maintenance windows, scored by their end
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from citywatch.rule_engine import lifecycle
from citywatch.rule_engine.evaluation import RuleEvaluation
from citywatch.rule_engine.lifecycle import AlertState, Status
from services.redis_text import text

_STATE_FIELDS = ("status", "active_since", "last_active_at", "since", "last_at", "seq")


@dataclass(frozen=True)
class Transition:
    """One entry of the outbox: a lifecycle transition, or an amendment (a revised indicator changed an outcome)."""

    outbox_id: str
    fingerprint: str
    seq: int
    status: str  # pending, firing, resolved, inactive, or "amended"
    at: float  # event time of the evaluation that caused it
    data: dict[str, Any]
    previous: str = ""
    amendment: dict[str, Any] | None = None
    suppressed: list[str] = field(default_factory=list)  # why notifications are held back: acknowledged, maintenance
    ack: dict[str, Any] | None = None  # the acknowledgement this transition ends (an alert resolving while acked)
    historical: bool = False  # an incident of backfilled history: recorded and published, never notified

    @property
    def transition_id(self) -> str:
        past = ":past" if self.historical else ""
        if self.amendment is not None:
            # The event time in whole milliseconds: exact, so two amendments never share an id (`:g` rounded it to
            # six digits, the same for every event time of a day).
            return f"{self.fingerprint}{past}:amend:{self.amendment['revision']}:{round(self.at * 1000)}"
        return f"{self.fingerprint}{past}:{self.seq}"

    @property
    def notifies(self) -> bool:
        """Firing and resolved transitions reach people; pending, inactive, amendments and historical incidents
        are only recorded."""
        return self.amendment is None and not self.historical and self.status in lifecycle.NOTIFYING

    def record(self) -> dict[str, Any]:
        """The alerts topic's record, with an id consumers can dedup on."""
        out: dict[str, Any] = {
            "transition_id": self.transition_id,
            "status": self.status,
            "previous": self.previous,
            "seq": self.seq,
            "event_time": self.at,
            **self.data,
            "fingerprint": self.fingerprint,
        }
        if self.amendment is not None:
            out["amendment"] = self.amendment
        if self.suppressed:
            out["suppressed"] = self.suppressed
        if self.ack is not None:
            out["ack"] = self.ack
        if self.historical:
            out["historical"] = True
        return out


@dataclass(frozen=True)
class Applied:
    effect: str  # "transition", "amended", "unchanged" or "stale"
    transition: Transition | None = None


@dataclass(frozen=True)
class Ack:
    by: str
    comment: str
    at: float
    silence_id: str = ""


@dataclass(frozen=True)
class Maintenance:
    id: str
    site: str
    starts_at: float
    ends_at: float
    comment: str
    by: str
    silence_id: str = ""

    def covers(self, site: str, at: float) -> bool:
        return self.site == site and self.starts_at <= at < self.ends_at


class AlertStore:
    def __init__(self, redis: Redis, prefix: str, history_retention_s: float = 400 * 86400) -> None:
        self.redis = redis
        self.prefix = prefix
        self.history_retention_s = history_retention_s

    # --- keys -----------------------------------------------------------------------------------------------------
    def _alert_key(self, fingerprint: str) -> str:
        return f"{self.prefix}:alert:{fingerprint}"

    def _past_key(self, fingerprint: str) -> str:
        """The lifecycle of an alert's historical incidents (backfilled history), apart from its live one."""
        return f"{self.prefix}:past:{fingerprint}"

    @property
    def _active_key(self) -> str:
        return f"{self.prefix}:active"

    @property
    def _outbox_key(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def _webhook_key(self) -> str:
        """The webhook queue shared by every receiver before each got its own (drained by `split_webhook_queue`)."""
        return f"{self.prefix}:webhooks"

    def _receiver_key(self, receiver: str) -> str:
        return f"{self.prefix}:webhooks:{receiver}"

    @property
    def _maintenance_key(self) -> str:
        return f"{self.prefix}:maintenance"

    def _history_key(self, by: str, name: str) -> str:
        return f"{self.prefix}:history:{by}:{name}"

    # --- lifecycle --------------------------------------------------------------------------------------------------
    async def apply(self, evaluation: RuleEvaluation, now: float | None = None) -> Applied:
        """Apply one evaluation to its alert's state, atomically with the outbox entry of any transition.

        A historical evaluation (backfilled history) moves the alert's historical lifecycle, kept apart from the
        live one: its transitions are recorded in the history and published on the alerts topic, marked
        `historical`, and never reach Alertmanager, webhooks or Grafana."""
        fp = evaluation.fingerprint
        past = evaluation.historical
        key = self._past_key(fp) if past else self._alert_key(fp)
        at = evaluation.observed_at.timestamp()
        data = evaluation.model_dump(mode="json", include=ALERT_FIELDS)
        pipeline: Any = self.redis.pipeline(transaction=True)  # redis-py's pipeline methods are untyped
        async with pipeline as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw: Any = await pipe.hgetall(key)
                    fields = {text(k): text(v) for k, v in raw.items()}
                    if evaluation.outcome == "retired" and not fields:
                        await pipe.unwatch()  # a removed rule's alert that never existed: nothing to end
                        return Applied("unchanged")
                    state = _state(fp, fields)
                    step = lifecycle.apply(
                        state,
                        evaluation.outcome,
                        at,
                        for_s=evaluation.for_s,
                        keep_firing_for_s=evaluation.keep_firing_for_s,
                    )
                    if step.effect == "stale":
                        await pipe.unwatch()
                        return Applied("stale")
                    amendment = _amendment(fields, evaluation, at)
                    ack = _ack(fields)
                    suppressed = [] if past else await self._suppressed(evaluation.site, ack, now)
                    pipe.multi()
                    pipe.hset(
                        key,
                        mapping={
                            **_state_fields(step.state),
                            # When the transition was made: a period's event time (a month's end) can lie ahead
                            # of it, and "since" must never show a time still to come.
                            **({"noticed_at": repr(time.time() if now is None else now)} if step.transition else {}),
                            "last_outcome": evaluation.outcome,
                            "last_revision": str(evaluation.revision),
                            "data": json.dumps(data, ensure_ascii=False),
                        },
                    )
                    entries: list[Transition] = []
                    if amendment is not None:
                        entries.append(
                            Transition(
                                "", fp, step.state.seq, "amended", at, data, amendment=amendment, historical=past
                            )
                        )
                    t = step.transition
                    if t is not None:
                        ends_ack = asdict(ack) if ack is not None and t.status is Status.RESOLVED else None
                        entries.append(
                            Transition(
                                "",
                                fp,
                                t.seq,
                                t.status.value,
                                at,
                                data,
                                t.previous.value,
                                suppressed=suppressed,
                                ack=ends_ack,
                                historical=past,
                            )
                        )
                        if not past:  # an incident of the past is never active now
                            if t.status in (Status.PENDING, Status.FIRING):
                                pipe.sadd(self._active_key, fp)
                            else:
                                pipe.srem(self._active_key, fp)
                        if t.status is Status.RESOLVED:
                            pipe.hdel(key, "ack")  # an acknowledgement lasts until the alert resolves
                    for entry in entries:
                        self._record(pipe, entry)
                    await pipe.execute()
                    if t is not None:
                        return Applied("transition", entries[-1])
                    return Applied("amended" if amendment is not None else "unchanged")
                except WatchError:
                    continue  # the API changed the alert meanwhile (an ack); decide again on the new state

    def _record(self, pipe: Any, entry: Transition) -> None:
        """Queue the outbox and history entries of one transition or amendment on a MULTI pipeline."""
        fields = {"entry": json.dumps(entry.record(), ensure_ascii=False)}
        pipe.xadd(self._outbox_key, fields)
        self._remember(pipe, entry.data["site"], entry.data["rule_id"], fields)

    def _remember(self, pipe: Any, site: str, rule: str, fields: dict[str, str]) -> None:
        oldest = f"{int((time.time() - self.history_retention_s) * 1000)}-0"
        for by, name in (("site", site), ("rule", rule)):
            pipe.xadd(self._history_key(by, name), fields, minid=oldest, approximate=True)

    async def _suppressed(self, site: str, ack: Ack | None, now: float | None) -> list[str]:
        out = ["acknowledged"] if ack is not None else []
        if await self.maintenance_for(site, now):
            out.append("maintenance")
        return out

    async def pending_transitions(self, count: int = 100) -> list[Transition]:
        entries: Any = await self.redis.xrange(self._outbox_key, count=count)
        return [_from_entry(text(entry_id), fields) for entry_id, fields in entries or []]

    async def mark_delivered(
        self, transitions: list[Transition], webhook: Sequence[Transition] = (), receivers: Sequence[str] = ()
    ) -> None:
        """Drop published entries from the outbox, queueing those for webhooks in the same transaction: in each
        receiver's own queue, so one receiver's outage or refusal neither holds back nor repeats another's."""
        if not transitions:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for t in webhook:
                entry = json.dumps(t.record(), ensure_ascii=False)
                for receiver in receivers:
                    pipe.xadd(self._receiver_key(receiver), {"entry": entry})
            for t in transitions:
                if t.status == "resolved":
                    pipe.hdel(self._alert_key(t.fingerprint), "held")  # the next firing decides afresh
            pipe.xdel(self._outbox_key, *[t.outbox_id for t in transitions])
            await pipe.execute()

    async def split_webhook_queue(self, receivers: Sequence[str]) -> int:
        """Move what is left in the shared queue of an older version into every receiver's own queue."""
        entries: Any = await self.redis.xrange(self._webhook_key)
        if not entries:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for _, fields in entries:
                for receiver in receivers:
                    pipe.xadd(self._receiver_key(receiver), {"entry": text(fields[b"entry"])})
            pipe.delete(self._webhook_key)
            await pipe.execute()
        return len(entries)

    async def webhook_queue(self, receiver: str, count: int = 50) -> list[tuple[str, dict[str, Any]]]:
        """Transition records waiting for one webhook receiver, oldest first."""
        entries: Any = await self.redis.xrange(self._receiver_key(receiver), count=count)
        return [(text(entry_id), _entry(fields)) for entry_id, fields in entries or []]

    async def webhook_done(self, receiver: str, entry_id: str) -> None:
        await self.redis.xdel(self._receiver_key(receiver), entry_id)

    async def get(self, fingerprint: str) -> dict[str, Any] | None:
        raw: Any = await self.redis.hgetall(self._alert_key(fingerprint))
        if not raw:
            return None
        return _view(fingerprint, {text(k): text(v) for k, v in raw.items()})

    async def active(self) -> list[dict[str, Any]]:
        """Alerts pending or firing now, by fingerprint."""
        members: Any = await self.redis.smembers(self._active_key)
        out = []
        for fp in sorted(text(m) for m in members):
            alert = await self.get(fp)
            if alert is not None and alert["status"] in ("pending", "firing"):
                out.append(alert)
        return out

    async def firing(self) -> list[dict[str, Any]]:
        return [a for a in await self.active() if a["status"] == "firing"]

    # --- acknowledgements -------------------------------------------------------------------------------------------
    async def acknowledge(self, fingerprint: str, ack: Ack) -> dict[str, Any]:
        """Record an ack on a firing alert; KeyError when no such alert fires."""
        alert = await self.get(fingerprint)
        if alert is None or alert["status"] != "firing":
            raise KeyError(f"no firing alert with fingerprint {fingerprint}")
        await self.redis.hset(self._alert_key(fingerprint), "ack", json.dumps(asdict(ack), ensure_ascii=False))
        return {**alert, "ack": asdict(ack)}

    async def unacknowledge(self, fingerprint: str) -> Ack | None:
        """Remove an ack; returns the ack removed, or None when there was none."""
        alert = await self.get(fingerprint)
        if alert is None or alert.get("ack") is None:
            return None
        await self.redis.hdel(self._alert_key(fingerprint), "ack")
        return Ack(**alert["ack"])

    async def audit(self, alert: dict[str, Any], event: str, details: dict[str, Any]) -> None:
        """Record what a person did to an alert (acknowledged, unacknowledged) in its site's and rule's history."""
        record = {
            "status": event,
            "fingerprint": alert["fingerprint"],
            "rule_id": alert["rule_id"],
            "site": alert["site"],
            "department": alert["department"],
            "event_time": time.time(),
            **details,
        }
        pipeline: Any = self.redis.pipeline(transaction=True)
        async with pipeline as pipe:
            self._remember(pipe, alert["site"], alert["rule_id"], {"entry": json.dumps(record, ensure_ascii=False)})
            await pipe.execute()

    # --- maintenance ------------------------------------------------------------------------------------------------
    async def add_maintenance(self, window: Maintenance) -> None:
        await self.redis.zadd(self._maintenance_key, {json.dumps(asdict(window), ensure_ascii=False): window.ends_at})

    async def maintenance(self, now: float | None = None) -> list[Maintenance]:
        """Maintenance windows not yet over (ended ones are dropped as they are read)."""
        now = time.time() if now is None else now
        await self.redis.zremrangebyscore(self._maintenance_key, "-inf", now)
        members: Any = await self.redis.zrange(self._maintenance_key, 0, -1)
        return sorted((Maintenance(**json.loads(text(m))) for m in members), key=lambda m: m.starts_at)

    async def maintenance_for(self, site: str, now: float | None = None) -> Maintenance | None:
        now = time.time() if now is None else now
        return next((m for m in await self.maintenance(now) if m.covers(site, now)), None)

    async def end_maintenance(self, window_id: str) -> Maintenance | None:
        for window in await self.maintenance():
            if window.id == window_id:
                await self.redis.zrem(self._maintenance_key, json.dumps(asdict(window), ensure_ascii=False))
                return window
        return None

    # --- history ----------------------------------------------------------------------------------------------------
    async def history(
        self, *, site: str | None = None, rule: str | None = None, since: float = 0.0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Transitions and amendments of a site or a rule, newest first."""
        if site is None and rule is None:
            raise ValueError("name a site or a rule")
        key = self._history_key("site", site) if site is not None else self._history_key("rule", rule or "")
        out: list[dict[str, Any]] = []
        cursor = "+"
        minimum = f"{int(since * 1000)}-0"
        while len(out) < limit:
            entries: Any = await self.redis.xrevrange(key, max=cursor, min=minimum, count=500)
            if not entries:
                break
            for entry_id, fields in entries:
                record = _entry(fields)
                if rule is None or record.get("rule_id") == rule:
                    out.append({"recorded_at": int(text(entry_id).split("-")[0]) / 1000, **record})
            cursor = "(" + text(entries[-1][0])  # exclusive: continue below the last entry read
        return out[:limit]

    async def get_field(self, fingerprint: str, name: str) -> str | None:
        value: Any = await self.redis.hget(self._alert_key(fingerprint), name)
        return None if value is None else text(value)

    async def set_field(self, fingerprint: str, name: str, value: str) -> None:
        """Remember a delivery detail (a Grafana annotation id) on the alert."""
        await self.redis.hset(self._alert_key(fingerprint), name, value)


ALERT_FIELDS = {
    "rule_id",
    "site",
    "indicator",
    "value",
    "unit",
    "threshold",
    "threshold_source",
    "unverified",
    "observed_at",
    "revision",
    "severity",
    "department",
    "source",
    "labels",
    "annotations",
    "kind",
}


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def _state(fingerprint: str, fields: dict[str, str]) -> AlertState:
    def num(name: str) -> float | None:
        value = fields.get(name, "")
        return float(value) if value else None

    return AlertState(
        fingerprint=fingerprint,
        status=Status(fields.get("status", "inactive")),
        active_since=num("active_since"),
        last_active_at=num("last_active_at"),
        since=num("since"),
        last_at=num("last_at"),
        seq=int(fields.get("seq", "0")),
    )


def _state_fields(state: AlertState) -> dict[str, str]:
    values = {name: getattr(state, name) for name in _STATE_FIELDS}
    return {name: "" if v is None else (v.value if isinstance(v, Status) else repr(v)) for name, v in values.items()}


def _amendment(fields: dict[str, str], evaluation: RuleEvaluation, at: float) -> dict[str, Any] | None:
    """An audit entry when a revised indicator (same event time, higher revision) changes the outcome."""
    if not fields.get("last_at") or float(fields["last_at"]) != at:
        return None
    previous_revision = int(fields.get("last_revision", "0") or 0)
    previous_outcome = fields.get("last_outcome", "")
    if evaluation.revision <= previous_revision or evaluation.outcome == previous_outcome:
        return None
    return {
        "revision": evaluation.revision,
        "previous_revision": previous_revision,
        "previous_outcome": previous_outcome,
        "outcome": evaluation.outcome,
        "value": evaluation.value,
    }


def _ack(fields: dict[str, str]) -> Ack | None:
    return Ack(**json.loads(fields["ack"])) if fields.get("ack") else None


def _since(fields: dict[str, str]) -> float | None:
    """The event time of the alert's latest transition, or when it was made if that is earlier."""
    if not fields.get("since"):
        return None
    since = float(fields["since"])
    return min(since, float(fields["noticed_at"])) if fields.get("noticed_at") else since


def _view(fingerprint: str, fields: dict[str, str]) -> dict[str, Any]:
    """An alert as the API shows it."""
    ack = _ack(fields)
    return {
        "fingerprint": fingerprint,
        "status": fields.get("status", "inactive"),
        "since": _since(fields),
        "seq": int(fields.get("seq", "0")),
        **json.loads(fields.get("data", "{}")),
        "ack": None if ack is None else asdict(ack),
        "annotation": json.loads(fields["annotation"]) if fields.get("annotation") else None,
    }


def _entry(fields: dict[Any, Any]) -> dict[str, Any]:
    decoded = {text(k): text(v) for k, v in fields.items()}
    record: dict[str, Any] = json.loads(decoded["entry"])
    return record


def _from_entry(entry_id: str, fields: dict[Any, Any]) -> Transition:
    record = _entry(fields)
    status = record.pop("status")
    amendment = record.pop("amendment", None)
    known = {"transition_id", "previous", "seq", "event_time", "fingerprint", "suppressed", "ack", "historical"}
    return Transition(
        outbox_id=entry_id,
        fingerprint=record["fingerprint"],
        seq=int(record["seq"]),
        status=status,
        at=float(record["event_time"]),
        data={k: v for k, v in record.items() if k not in known},
        previous=record.get("previous", ""),
        amendment=amendment,
        suppressed=list(record.get("suppressed", [])),
        ack=record.get("ack"),
        historical=bool(record.get("historical", False)),
    )
