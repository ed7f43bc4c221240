"""Departments replaying readings through the gateway at once, each as a well-behaved publisher: one request per
simulated day and feed (at most the gateway's batch limit), in emission order, at its share of a common pace, sending
a batch again after a 503 once its Retry-After has passed. Runs in threads; counts what the gateway answered."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date

import httpx

from tests.integration.worker_runs import SHANGHAI, Input, wait_for

BATCH_LIMIT = 1000  # the gateway's max_batch_records
GIVE_UP_S = 180.0  # one batch refused for longer than this fails the replay


class GatewayReplay:
    def __init__(self, gateway: str, keys: dict[str, str], inputs: list[Input], pace: float) -> None:
        self.gateway, self.keys, self.inputs, self.pace = gateway, keys, inputs, pace
        self.accepted = 0
        self.duplicates = 0
        self.statuses: Counter[int] = Counter()  # 0: no answer in time
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def requests(self, department: str) -> Iterator[tuple[str, list[Input]]]:
        """The department's requests in emission order: (feed, readings) per simulated day and feed."""
        days: dict[date, dict[str, list[Input]]] = {}
        for item in self.inputs:
            if item.department == department:
                day = days.setdefault(item.at.astimezone(SHANGHAI).date(), {})
                day.setdefault(item.feed, []).append(item)
        for feeds in days.values():
            for feed, items in feeds.items():
                for start in range(0, len(items), BATCH_LIMIT):
                    yield feed, items[start : start + BATCH_LIMIT]

    def start(self) -> None:
        shares = Counter(i.department for i in self.inputs)
        for department, count in sorted(shares.items()):
            pace = self.pace * count / len(self.inputs)
            thread = threading.Thread(target=self._publish, args=(department, pace), name=f"replay-{department}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def _publish(self, department: str, pace: float) -> None:
        started, sent = time.monotonic(), 0
        try:
            with httpx.Client(timeout=60) as client:
                for feed, items in self.requests(department):
                    self._post(client, feed, department, [i.record for i in items])
                    sent += len(items)
                    if self._stop.wait(max(0.0, sent / pace - (time.monotonic() - started))):
                        return
        except BaseException as exc:  # the test thread raises it (running(), finish())
            self.errors.append(exc)

    def _post(self, client: httpx.Client, feed: str, department: str, records: list[object]) -> None:
        url = f"{self.gateway}/v1/feeds/{feed}/readings/batch"
        headers = {"Authorization": f"Bearer {self.keys[department]}"}
        deadline = time.monotonic() + GIVE_UP_S
        while not self._stop.is_set():
            assert time.monotonic() < deadline, f"a {feed} batch of {department} was refused for {GIVE_UP_S:.0f} s"
            try:
                response = client.post(url, json=records, headers=headers)
            except httpx.TimeoutException:
                self._count(0)  # sent again: the gateway's dedup answers for whatever it had accepted
                continue
            self._count(response.status_code)
            if response.status_code == 202:
                body = response.json()
                with self._lock:
                    self.accepted += body["accepted"]
                    self.duplicates += body["duplicates"]
                return
            assert response.status_code == 503, f"{feed} batch of {department}: {response.status_code} {response.text}"
            assert "nothing from this request was accepted" in response.json()["detail"], response.text
            self._stop.wait(int(response.headers["Retry-After"]))

    def _count(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1

    @property
    def answered(self) -> int:
        return self.accepted + self.duplicates

    def running(self) -> bool:
        """Whether a department is still sending; raises what failed in one."""
        if self.errors:
            raise AssertionError(f"the gateway replay failed: {self.errors[0]!r}") from self.errors[0]
        return any(thread.is_alive() for thread in self._threads)

    def wait_for_share(self, share: float, timeout_s: float) -> None:
        wait_for(
            lambda: not self.running() or self.answered >= share * len(self.inputs),
            timeout_s,
            f"the gateway to accept {share:.0%} of the readings",
        )
