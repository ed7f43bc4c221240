"""What the worker decided, brought back to the publishers: a loop inside the gateway process that reads

- `<prefix>.receipts` into the receipts (`GET /v1/receipts/{receipt}`), and
- the worker's dead letters on `<prefix>.dead-letter` into the department's recent rejections (`/v1/rejections`);
  the gateway's own dead letters are already there.

Consumer group `<prefix>-ingest-outcomes`, shared by every gateway replica; offsets are committed only after Redis
holds what was read, and folding a receipt update twice counts nothing twice. While Kafka or Redis is away the loop
waits and retries; the HTTP API keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from citywatch.schemas.dead_letter import DeadLetter
from citywatch.schemas.receipt import ReceiptUpdate
from citywatch.settings import IngestSettings
from citywatch.topics import Topics
from services.ingest.metrics import OUTCOMES_READ
from services.ingest.receipts import Receipts
from services.ingest.recent_rejections import RecentRejections
from services.kafka_client import apply_committed
from services.redis_errors import MAX_BACKOFF_S, until_redis_answers

log = logging.getLogger("citywatch.ingest.outcomes")


class OutcomeFollower:
    def __init__(self, settings: IngestSettings, receipts: Receipts, rejections: RecentRejections) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.receipts = receipts
        self.rejections = rejections
        for kind in ("receipt", "dead-letter", "unreadable"):
            OUTCOMES_READ.labels(kind=kind)

    @property
    def group_id(self) -> str:
        return f"{self.settings.topic_prefix}-ingest-outcomes"

    async def run(self) -> None:
        """Forever: (re)connect, read, fold into Redis, commit; back off while something is away."""
        backoff = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("following the worker's outcomes stopped (%s); again in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _follow(self) -> None:
        topics = [self.topics.receipts, self.topics.dead_letter]

        async def apply(message: Any) -> None:
            await self._until_redis_answers(message.topic, message.value)

        await apply_committed(self.settings, topics, self.group_id, apply)

    async def _until_redis_answers(self, topic: str, value: bytes | None) -> None:
        def down(exc: Exception, backoff: float) -> None:
            log.error("Redis is unavailable (%s); outcomes wait, retrying in %.1f s", exc, backoff)

        await until_redis_answers(lambda: self.fold(topic, value), down)

    async def fold(self, topic: str, value: bytes | None) -> None:
        """One record of either topic into Redis."""
        try:
            if topic == self.topics.receipts:
                await self.receipts.fold(ReceiptUpdate.model_validate_json(value or b""))
                OUTCOMES_READ.labels(kind="receipt").inc()
                return
            letter = DeadLetter.model_validate_json(value or b"")
        except ValidationError as exc:
            OUTCOMES_READ.labels(kind="unreadable").inc()
            log.error("skipping an unreadable record on %s: %s", topic, exc)
            return
        if letter.stage == "worker" and letter.department:
            await self.rejections.add(letter.department, [letter])
            OUTCOMES_READ.labels(kind="dead-letter").inc()
