"""`/v1/alerts`: alerts pending or firing, and their acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from services.alerts.alertmanager import alert_labels
from services.alerts.oncall_desk import DeskDep, OncallKey
from services.alerts.store import Ack

router = APIRouter()


class AckRequest(BaseModel):
    comment: str = Field(..., min_length=1, max_length=2000, description="Why, and what is being done")


@router.get("/v1/alerts")
async def active_alerts(
    key: OncallKey, desk: DeskDep, state: str | None = Query(None, pattern="^(pending|firing)$")
) -> list[dict[str, Any]]:
    """Alerts pending or firing now (optionally only one state), by fingerprint: an on-call key sees its own
    department's, an admin key every department's."""
    return [
        a
        for a in await desk.store.active()
        if (state is None or a["status"] == state) and desk.sees(key, a.get("department", ""))
    ]


@router.get("/v1/alerts/{fingerprint}")
async def one_alert(fingerprint: str, key: OncallKey, desk: DeskDep) -> dict[str, Any]:
    alert = await desk.alert_or_404(fingerprint)
    desk.may_act_on(key, alert["department"])
    return alert


@router.post("/v1/alerts/{fingerprint}/ack")
async def acknowledge(fingerprint: str, body: AckRequest, key: OncallKey, desk: DeskDep) -> dict[str, Any]:
    """Acknowledge a firing alert: Alertmanager stops notifying it (a silence on the alert) until it resolves."""
    alert = await desk.alert_or_404(fingerprint)
    desk.may_act_on(key, alert["department"])
    if alert["status"] != "firing":
        raise HTTPException(status.HTTP_409_CONFLICT, f"the alert is {alert['status']}; only a firing alert is acked")
    if alert.get("ack"):
        raise HTTPException(status.HTTP_409_CONFLICT, f"already acknowledged by {alert['ack']['by']}")
    now = datetime.now(UTC)
    by = f"{key.department}/{key.key_id}"
    silence_id = await desk.silence(
        alert_labels(alert),
        now,
        now + timedelta(days=desk.settings.ack_max_days),
        by,
        f"acknowledged in citywatch: {body.comment}",
    )
    ack = Ack(by=by, comment=body.comment, at=now.timestamp(), silence_id=silence_id)
    try:
        acked = await desk.store.acknowledge(fingerprint, ack)
    except KeyError as exc:  # resolved meanwhile
        await desk.expire(silence_id)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc.args[0])) from exc
    await desk.store.audit(alert, "acknowledged", {"by": by, "comment": body.comment})
    return acked


@router.delete("/v1/alerts/{fingerprint}/ack")
async def unacknowledge(fingerprint: str, key: OncallKey, desk: DeskDep) -> dict[str, Any]:
    """Withdraw an acknowledgement: notifications resume."""
    alert = await desk.alert_or_404(fingerprint)
    desk.may_act_on(key, alert["department"])
    ack = await desk.store.unacknowledge(fingerprint)
    if ack is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the alert is not acknowledged")
    await desk.expire(ack.silence_id)
    await desk.store.audit(alert, "unacknowledged", {"by": f"{key.department}/{key.key_id}"})
    return await desk.alert_or_404(fingerprint)
