"""The pages a person opens, in Debian's headless Chromium (installed by `citywatch stack install`): the on-call
page of the alert service (log in, see the PM2.5 episode, acknowledge it, and the screenshot shows it acked) and
both services' API docs, every asset served locally (on 1efedca `/docs` was blank without internet)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka import KafkaProducer
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Isolation
from tests.integration.test_inhibition import judged

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHROMIUM = "/usr/bin/chromium"
# As root, on a closed network: no sandbox, and none of Chromium's own background connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACKED_GREEN = (0x1E, 0x84, 0x49)  # .acked in services/alerts/page/oncall.css


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


def local_only(page: Page, base: str) -> list[str]:
    """Every URL the page asks for that is not on `base` (a CDN, a font service): filled in as it loads."""
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else elsewhere.append(r.url))
    return elsewhere


def oncall_key(isolation: Isolation) -> str:
    """An on-call key, made on another thread: Playwright's sync API keeps an event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(isolation.api_key, "environment", "oncall").result()


def green_share(png: Path) -> float:
    image = Image.open(png).convert("RGB")
    pixels = list(image.getdata())
    near = sum(1 for p in pixels if all(abs(c - g) < 40 for c, g in zip(p, ACKED_GREEN, strict=True)))
    return near / len(pixels)


def test_on_call_logs_in_sees_the_episode_and_acknowledges_it(
    isolation: Isolation, browser: Browser, tmp_path: Path
) -> None:
    alerts = isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz")
    base = f"http://127.0.0.1:{alerts.metrics_port}"
    episode = judged("air-pm25-24h-grade2", "wj-songling", 82.0)
    body = episode.model_dump(mode="json")
    body["labels"] = {**body["labels"], "test": isolation.id}
    body["annotations"] = {**body["annotations"], "site_name": "Songling 松陵"}
    producer = KafkaProducer(bootstrap_servers=isolation.stack.kafka_bootstrap, acks="all")
    producer.send(isolation.ensure_topics().rule_evaluations, key=b"wj-songling", value=json.dumps(body).encode())
    producer.flush()
    producer.close()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    elsewhere = local_only(page, base)
    page.goto(f"{base}/")
    page.fill("#key", "not-a-key")
    page.click("#login button")
    page.wait_for_selector("#login-error:has-text('unknown or revoked')")

    page.fill("#key", oncall_key(isolation))
    page.click("#login button")
    row = page.locator(f"#alerts tr[data-fingerprint='{episode.fingerprint}']")
    for _ in range(30):  # the page refreshes every 10 s; reload until the alert service has applied it
        if row.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    row.wait_for(timeout=10_000)
    assert "Songling 松陵" in row.inner_text() and "air-pm25-24h-grade2" in row.inner_text()
    assert "firing" in row.inner_text()
    before = tmp_path / "firing.png"
    row.screenshot(path=str(before))

    row.locator("input[name=comment]").fill("crew on the way to the analyser")
    row.locator("button:has-text('Acknowledge')").click()
    acked = page.locator(f"#alerts tr[data-fingerprint='{episode.fingerprint}'] .acked")
    acked.wait_for(timeout=15_000)
    after = tmp_path / "acked.png"
    row = page.locator(f"#alerts tr[data-fingerprint='{episode.fingerprint}']")
    row.screenshot(path=str(after))
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert "crew on the way to the analyser" in row.inner_text()
    assert "acknowledged by environment/" in row.inner_text()
    # The screenshot shows it: the acknowledgement's green is there now, and was not before.
    assert green_share(after) > 0.002 > green_share(before), (green_share(after), green_share(before))

    # Maintenance and history, from the same page.
    page.fill("#history-form input[name=site]", "wj-songling")
    page.click("#history-form button")
    page.wait_for_selector("#history td:has-text('acknowledged')")
    ends = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#new-window input[name=site]", "wj-lili")
    page.fill("#new-window input[name=ends_at]", ends)
    page.fill("#new-window input[name=comment]", "analyser calibration")
    page.click("#new-window button")
    page.wait_for_selector("#maintenance td:has-text('analyser calibration')")
    assert "+08:00" in page.locator("#maintenance tbody").inner_text()  # the deployment's local time
    assert elsewhere == [], elsewhere


def test_the_api_docs_load_without_internet_and_say_how_to_authenticate(isolation: Isolation, browser: Browser) -> None:
    for command, port_env in (("alerts", "CITYWATCH_ALERTS_PORT"), ("ingest", "CITYWATCH_INGEST_PORT")):
        service = isolation.start(command, port_env, health_path="/healthz")
        base = f"http://127.0.0.1:{service.metrics_port}"
        page = browser.new_page()
        elsewhere = local_only(page, base)
        page.goto(f"{base}/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        page.wait_for_selector("button.authorize", timeout=10_000)
        page.click("button.authorize")
        page.wait_for_selector("text=HTTPBearer", timeout=10_000)
        assert elsewhere == [], (command, elsewhere)
        page.close()
