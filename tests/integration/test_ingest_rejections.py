"""The gateway keeps every rejected record on the dead-letter topic and names index, field and reason."""

from __future__ import annotations

import httpx

from tests.conftest import Isolation
from tests.integration.kafka_reads import read_feed_until, read_until


def test_a_bad_batch_is_refused_whole_and_every_bad_record_is_kept(isolation: Isolation) -> None:
    stack = isolation.stack
    topics = isolation.ensure_topics(partitions=1)
    ingest = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    url = f"http://127.0.0.1:{ingest.metrics_port}"
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    batch = [
        {"station": "wj-songling", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 12},
        {"station": "wj-songling", "observed_at": "2025-01-01T09:00:00", "pm25": 12},
        {"station": "wj-songling", "observed_at": "2025-01-01T10:00:00+08:00", "pm25": 12, "pm25_unit": "mg/m³"},
    ]
    response = httpx.post(f"{url}/v1/feeds/air/readings/batch", json=batch, headers=auth, timeout=30)
    assert response.status_code == 422
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert errors == {(1, "observed_at"), (2, "pm25_unit")}
    assert all(e["reason"] for e in response.json()["errors"])

    not_json = httpx.post(
        f"{url}/v1/feeds/air/readings", content=b"{not json", headers={"content-type": "application/json", **auth}
    )
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["detail"]

    letters = read_until(stack.kafka_bootstrap, topics.dead_letter, lambda rs: len(rs) >= 3)
    assert len(letters) == 3  # two bad records + the unparsable body: rejections == dead letters
    assert sorted(letter["index"] for letter in letters[:2]) == [1, 2]
    assert letters[2]["errors"][0]["field"] == "(body)"

    # Nothing of the refused batch reached the feed; a good one does.
    good = httpx.post(f"{url}/v1/feeds/air/readings/batch", json=batch[:1], headers=auth, timeout=30)
    assert good.status_code == 202 and good.json()["accepted"] == 1
    feed = read_feed_until(
        stack.kafka_bootstrap, topics.feed("air", "environment"), lambda rs: len(rs) >= 1, timeout_s=10
    )
    assert len(feed) == 1

    metrics = httpx.get(f"{url}/metrics").text
    assert 'citywatch_ingest_records_total{feed="air",outcome="rejected"} 3.0' in metrics
    assert 'citywatch_ingest_records_total{feed="air",outcome="accepted"} 1.0' in metrics
