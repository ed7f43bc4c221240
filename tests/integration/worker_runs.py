"""Running the worker over a fixed input on the real broker, and reading back what it left: the final record of
every indicator bucket and the final value of every table key."""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client.parser import text_string_to_metric_families

from citywatch.feeds import SITE_FIELDS
from citywatch.schemas.indicator import record_dicts_in
from citywatch.site_registry import load_registry
from citywatch.topics import STATE_TABLE, Topics, changelog
from services.kafka_client import Connection, connection_kwargs
from services.simulator.scenario import Scenario
from streams.restart import RESTART
from tests.conftest import REPO_ROOT, Isolation
from tests.integration.webhook_receiver import WebhookReceiver
from tools.devstack.config import StackConfig
from tools.devstack.stack import CitywatchProcess

T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 3, 0, tzinfo=SHANGHAI)  # a Monday
# The replay of the worker tests (test_worker_state, test_fault_worker_kill): every feed for ten simulated days,
# 12,125 readings: enough for every worker test comparing a disturbed run with an uninterrupted one.
REPLAY_HOURS = 240
# The SIGKILL fault's replay (issue 8): 100,145 readings, about 83 simulated days.
FAULT_REPLAY_HOURS = 1987
REPLAY_PARTITIONS = 4


@dataclass(frozen=True)
class Input:
    """One record as a department publishes it: feed, department, site (the key) and the JSON record."""

    feed: str
    department: str
    site: str
    record: dict[str, Any]
    at: datetime  # when the simulator emits it (simulated time)


def scenario_inputs(hours: int, seed: int = 11, start: datetime = START) -> list[Input]:
    """Every feed of the sample registry for `hours` simulated hours from `start`, in emission order, no
    incidents."""
    registry = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
    scenario = Scenario(registry, seed, start, SHANGHAI, incidents=())
    out: list[Input] = []
    for step in range(hours):
        for batch in scenario.emissions(step):
            for record in batch.records:
                site = str(record[SITE_FIELDS[batch.feed]])
                out.append(Input(batch.feed, batch.department, site, record, batch.at))
    return out


def shuffled_with_duplicates(inputs: list[Input], seed: int = 3, bin_hours: int = 3) -> list[Input]:
    """The same records, shuffled within bins of `bin_hours` of emission time (inside every feed's allowed
    lateness) and with about one in ten sent twice."""
    rng = random.Random(seed)
    bins: dict[int, list[Input]] = {}
    for item in inputs:
        bins.setdefault(int((item.at - START) / timedelta(hours=bin_hours)), []).append(item)
    out: list[Input] = []
    for key in sorted(bins):
        chunk = list(bins[key])
        chunk += [i for i in chunk if rng.random() < 0.1]
        rng.shuffle(chunk)
        out.extend(chunk)
    return out


def produce(kafka: Connection, topics: Topics, inputs: Iterable[Input]) -> int:
    producer = KafkaProducer(**connection_kwargs(kafka), acks="all", linger_ms=20)
    n = 0
    try:
        for item in inputs:
            producer.send(
                topics.feed(item.feed, item.department),
                key=item.site.encode(),
                value=json.dumps(item.record).encode(),
            )
            n += 1
        producer.flush(timeout=60)
    finally:
        producer.close()
    return n


def _end_offsets(kafka: Connection, topic_names: list[str]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(**connection_kwargs(kafka))
    try:
        partitions = [
            TopicPartition(t, p) for t in topic_names for p in sorted(consumer.partitions_for_topic(t) or set())
        ]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def committed(kafka: Connection, group: str, retry_s: float = 30.0) -> dict[TopicPartition, int]:
    """The group's committed offsets. A broker that just started has no group coordinator for a few seconds
    (CoordinatorNotAvailable, retriable): ask again for up to `retry_s`."""
    deadline = time.monotonic() + retry_s
    while True:
        admin = KafkaAdminClient(**connection_kwargs(kafka))
        try:
            offsets = admin.list_group_offsets({group: None}).get(group, {})
            return {tp: meta.offset for tp, meta in offsets.items()}
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
        finally:
            admin.close()
        time.sleep(0.5)


def source_topics(topics: Topics, inputs: Iterable[Input]) -> list[str]:
    return [*sorted({topics.feed(i.feed, i.department) for i in inputs}), topics.contributions]


def committed_share(kafka: Connection, group: str, topic_names: list[str]) -> float:
    """How much of the feed topics' records the group has committed (0–1)."""
    ends = {tp: n for tp, n in _end_offsets(kafka, topic_names).items() if tp.topic != topic_names[-1]}
    done = committed(kafka, group)
    total = sum(ends.values())
    return sum(min(done.get(tp, 0), n) for tp, n in ends.items()) / total if total else 1.0


def wait_until_consumed(
    kafka: Connection,
    group: str,
    topic_names: list[str],
    timeout_s: float = 180.0,
    processes: Sequence[CitywatchProcess] = (),
    supervised: bool = False,
) -> None:
    """Until the group has committed every partition of `topic_names` to its end, stable over two polls (the
    district stage's input grows while the feeds are processed). Fails at once, with the end of its log, when one of
    `processes` (the group's members) has exited: nothing would consume the rest; when `supervised` and the worker's
    stall watch made it exit on purpose, starts it again instead, as Kubernetes or systemd would."""
    deadline = time.monotonic() + timeout_s
    stable = 0
    last: dict[TopicPartition, int] = {}
    behind: dict[TopicPartition, int] = {}
    while time.monotonic() < deadline:
        for proc in processes:
            keep_running(proc, group, supervised)
        try:
            ends = _end_offsets(kafka, topic_names)
            done = committed(kafka, group)
        except KafkaTimeoutError:
            continue  # the broker, busy with the worker on 2 cores, answers the next poll
        behind = {tp: n - done.get(tp, 0) for tp, n in ends.items() if n > done.get(tp, 0)}
        stable = stable + 1 if not behind and ends == last else 0
        if stable >= 2:
            return
        last = ends
        time.sleep(1.0)
    tails = "\n".join(log_tail(p) for p in processes)
    raise AssertionError(f"group {group} did not consume {topic_names} within {timeout_s} s; behind: {behind}\n{tails}")


def keep_running(proc: CitywatchProcess, group: str, supervised: bool) -> None:
    """Fail, with the end of its log, when a member of `group` has exited; when `supervised` and it exited on
    purpose for a restart (its stall watch, a batch it could not deliver: streams/restart.py), start it again
    instead, as Kubernetes or systemd would."""
    if proc.process.is_running():
        return
    if not (supervised and RESTART in proc.log_of_this_run()):
        raise AssertionError(f"{proc.name} of {group} exited:\n{log_tail(proc)}")
    print(f"\n{proc.name} exited for a restart; started again, as its supervisor would:\n{log_tail(proc, 5)}")
    proc.start(wait_s=90)


def log_tail(proc: CitywatchProcess, lines: int = 30) -> str:
    """The end of a process's log, warnings and errors first (what a failed wait should show)."""
    text = proc.log_file.read_text(errors="replace").splitlines() if proc.log_file.exists() else []
    alarms = [line for line in text if "[WARNING]" in line or "[ERROR]" in line or '"level": "error"' in line]
    return f"--- {proc.log_file} (warnings and errors, then its end)\n" + "\n".join(alarms[-10:] + text[-lines:])


def read_all(kafka: Connection, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of a topic, from the beginning to its current end."""
    consumer = KafkaConsumer(**connection_kwargs(kafka), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        out: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within 60 s")
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


def final_indicators(kafka: Connection, topics: Topics) -> dict[str, dict[str, Any]]:
    """The last record of every indicator bucket (what a compacted indicators topic keeps)."""
    out: dict[str, dict[str, Any]] = {}
    for _, value in read_all(kafka, topics.indicators):
        assert value is not None
        for record in record_dicts_in(value):
            out[f"{record['indicator']}|{record['site']}|{record['period']}"] = record
    return out


def final_table(kafka: Connection, app_id: str) -> dict[str, Any]:
    """The last value of every key of the worker's state table, from its changelog topic."""
    out: dict[str, Any] = {}
    for key, value in read_all(kafka, changelog(app_id, STATE_TABLE)):
        assert key is not None
        name = json.loads(key)
        if value is None:
            out.pop(name, None)
        else:
            out[name] = json.loads(value)
    return out


def wait_for(condition: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll `condition` until it gives a true value, and return that value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if answer := condition():
                return answer
        except KafkaTimeoutError:
            pass  # a condition reading the broker: it answers the next poll
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@dataclass
class Run:
    """What one run of the worker left: the last record of every indicator bucket and the table state."""

    indicators: dict[str, dict[str, Any]]
    table: dict[str, Any]
    metrics: str = ""  # the (first) worker's /metrics once everything was consumed


def results(
    iso: Isolation,
    topics: Topics,
    inputs: list[Input],
    kafka: Connection | None = None,
    timeout_s: float = 180.0,
    supervised: bool = False,
) -> Run:
    """Once the worker group has consumed every input: what it left (read over `kafka`, the isolation's broker
    unless given). `supervised`: see wait_until_consumed."""
    kafka = iso.stack.kafka_bootstrap if kafka is None else kafka
    app_id = iso.env["CITYWATCH_WORKER_APP_ID"]
    workers = [p for p in iso.processes if p.command[0] == "worker"]
    wait_until_consumed(kafka, app_id, source_topics(topics, inputs), timeout_s, workers, supervised)
    keep_running(workers[0], app_id, supervised)  # its stall watch may have fired since the last poll
    return Run(
        final_indicators(kafka, topics),
        final_table(kafka, app_id),
        worker_metrics(workers[0].metrics_port),
    )


def single_worker_run(iso: Isolation, inputs: list[Input]) -> Run:
    """One worker, never interrupted, over `inputs` produced beforehand (it starts with a backlog)."""
    topics = iso.ensure_topics(REPLAY_PARTITIONS)
    produce(iso.stack.kafka_bootstrap, topics, inputs)
    iso.start("worker", "CITYWATCH_WORKER_WEB_PORT", CITYWATCH_WORKER_DATA_DIR=str(iso.tmp_path / "worker-0"))
    return results(iso, topics, inputs)


def reference_run(stack: StackConfig, tmp_path: Path, inputs: list[Input]) -> Run:
    """One worker over `inputs`, never interrupted, in an isolation of its own (its worker stopped once the results
    are read): the run a disturbed one is compared with."""
    iso = Isolation(stack, tmp_path)
    try:
        return single_worker_run(iso, inputs)
    finally:
        iso.close()


def produce_backlog(iso: Isolation, inputs: list[Input]) -> tuple[Topics, list[str]]:
    """`inputs` on the isolation's topics before its worker starts, so that it starts behind: the topics, and the
    names of those its worker group consumes."""
    topics = iso.ensure_topics(REPLAY_PARTITIONS)
    produce(iso.stack.kafka_bootstrap, topics, inputs)
    return topics, source_topics(topics, inputs)


def kill_behind(iso: Isolation, worker: CitywatchProcess, names: list[str], share: float, timeout_s: float) -> float:
    """SIGKILL the worker once its group has committed more than `share` of the backlog on `names` (it must still
    be behind: under 90 %), and start it again; the share it had committed."""
    bootstrap, app_id = iso.stack.kafka_bootstrap, iso.env["CITYWATCH_WORKER_APP_ID"]
    wait_for(
        lambda: committed_share(bootstrap, app_id, names) > share,
        timeout_s,
        f"the worker to commit more than {share:.0%} of the backlog",
    )
    done = committed_share(bootstrap, app_id, names)
    assert done < 0.9, f"the worker finished ({done:.0%}) before it could be killed with a backlog"
    worker.kill()
    worker.start(wait_s=90)
    return done


# Not computed from readings: the registry's fleet "as of today" (processing time), published at every worker start;
# a run on the other side of midnight (Asia/Shanghai) than the reference has another day's bucket.
AS_OF_TODAY = {"bus.clean_energy_share.fleet"}


def assert_same(run: Run, reference: Run) -> None:
    """Every indicator bucket's last record and every table key's state (event-time part) are the reference's."""
    run = replace(run, indicators=_from_readings(run.indicators))
    reference = replace(reference, indicators=_from_readings(reference.indicators))
    assert len(reference.indicators) > 500, "the reference run produced too little to compare"
    missing = sorted(set(reference.indicators) - set(run.indicators))[:10]
    extra = sorted(set(run.indicators) - set(reference.indicators))[:10]
    assert not missing and not extra, f"missing buckets {missing}; extra buckets {extra}"
    differing = [k for k in reference.indicators if run.indicators[k] != reference.indicators[k]]
    assert not differing, [(k, run.indicators[k], reference.indicators[k]) for k in differing[:3]]
    assert run.table.keys() == reference.table.keys()
    table, expected = _event_time_state(run.table), _event_time_state(reference.table)
    differing = [k for k in expected if table[k] != expected[k]]
    assert not differing, f"table keys with another state: {differing[:10]}"


def _from_readings(indicators: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in indicators.items() if v["indicator"] not in AS_OF_TODAY}


def _event_time_state(table: dict[str, Any]) -> dict[str, Any]:
    """The table without the rule state's arrival times (processing time, which differs from run to run)."""
    return {k: {**v, "last_seen": None} if k.startswith("rules:") else v for k, v in table.items()}


def worker_metrics(port: int | None) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def has_partitions(worker: CitywatchProcess, of_topics: Iterable[str] = ()) -> bool:
    """Whether the worker's group has assigned it partitions (of one of `of_topics`, when given), as its /metrics
    says; False while it does not answer."""
    try:
        text = worker_metrics(worker.metrics_port)
    except httpx.HTTPError:
        return False
    wanted = set(of_topics)
    return any(
        sample.value > 0 and (not wanted or sample.labels["topic"] in wanted)
        for family in text_string_to_metric_families(text)
        if family.name == "citywatch_worker_assigned_partitions"
        for sample in family.samples
    )


@dataclass(frozen=True)
class AlertCounts:
    evaluations: int
    transitions: int
    webhook_calls: int


def assert_each_transition_once(
    kafka: Connection, topics: Topics, alerts: CitywatchProcess, group: str, webhook: WebhookReceiver
) -> AlertCounts:
    """Once the alert service (`alerts`, consumer group `group`) has read every rule evaluation, the repeats a
    restarted worker or a retried send emits included: it published each transition once, with gapless sequences
    per alert, and called the webhook once per notifying transition (firing or resolved, not in maintenance)."""
    wait_until_consumed(kafka, group, [topics.rule_evaluations], processes=[alerts])
    evaluations = len(read_all(kafka, topics.rule_evaluations))
    time.sleep(3)  # the outbox drains every second
    records = [json.loads(value or b"null") for _, value in read_all(kafka, topics.alerts)]
    assert records, "the run raised no alert: nothing to count"
    ids = Counter(r["transition_id"] for r in records)
    assert [i for i, n in ids.items() if n > 1] == [], "a transition was published twice"
    seqs: dict[str, list[int]] = defaultdict(list)
    for r in records:
        if "amendment" not in r:
            seqs[r["fingerprint"]].append(r["seq"])
    gaps = {fp: s for fp, s in seqs.items() if sorted(s) != list(range(1, len(s) + 1))}
    assert not gaps, f"transition sequences with gaps or repeats: {list(gaps.items())[:3]}"
    notifying = {
        r["transition_id"]
        for r in records
        if "amendment" not in r
        and r["status"] in ("firing", "resolved")
        and "maintenance" not in r.get("suppressed", [])
    }
    wait_for(lambda: len(webhook.calls) >= len(notifying), 30, "every notifying transition at the webhook")
    time.sleep(2)
    calls = Counter(c["key"] for c in webhook.calls)
    assert [k for k, n in calls.items() if n > 1] == [], "the webhook was called twice for a transition"
    assert set(calls) == notifying
    return AlertCounts(evaluations, len(records), len(webhook.calls))
