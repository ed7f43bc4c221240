// The on-call page: the alert service's own API (/v1/...), with the on-call key the person logs in with.
// No framework and nothing from a CDN: this file is all there is.
"use strict";

const zone = document.body.dataset.zone || "Asia/Shanghai";
const storageKey = "citywatch-oncall-key";
const $ = (selector) => document.querySelector(selector);

function key() { return sessionStorage.getItem(storageKey); }

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { "Authorization": `Bearer ${key()}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || data);
    const error = new Error(`${response.status}: ${detail}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// Local time of the deployment, with its offset, as every citywatch tool shows it.
function when(epochSeconds) {
  if (epochSeconds === null || epochSeconds === undefined) return "";
  const at = new Date(epochSeconds * 1000);
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "longOffset",
  }).formatToParts(at);
  const part = (type) => (parts.find((p) => p.type === type) || {}).value || "";
  const offset = part("timeZoneName").replace("GMT", "") || "+00:00";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}${offset}`;
}

function cell(row, content, className) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  if (className) td.className = className;
  return td;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function siteOf(alert) {
  const box = document.createElement("span");
  const name = (alert.annotations || {}).site_name;
  box.append(element("strong", name || alert.site));
  if (name) box.append(element("div", alert.site, { class: "muted" }));
  return box;
}

function whatOf(alert) {
  const box = document.createElement("span");
  const annotations = alert.annotations || {};
  if (annotations.title) box.append(element("strong", annotations.title));
  box.append(element("div", annotations.summary || alert.rule_id));
  const rule = element("div", `${alert.rule_id} · ${(alert.labels || {}).purpose || ""}`, { class: "muted" });
  box.append(rule);
  if (annotations.runbook_url) {
    box.append(element("a", "runbook", { href: annotations.runbook_url, target: "_blank", rel: "noopener" }));
  }
  return box;
}

function ackOf(alert) {
  const box = document.createElement("span");
  if (alert.ack) {
    box.append(element("span", `acknowledged by ${alert.ack.by}`, { class: "acked" }));
    box.append(element("div", alert.ack.comment, { class: "muted" }));
    return box;
  }
  if (alert.status !== "firing") return box;
  const form = element("form", undefined, { class: "ack", "data-fingerprint": alert.fingerprint });
  const comment = element("input", undefined, { name: "comment", required: "", placeholder: "what is being done" });
  form.append(comment, element("button", "Acknowledge", { type: "submit" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/v1/alerts/${alert.fingerprint}/ack`, { comment: comment.value });
      await refresh();
    } catch (error) { alert_(error); }
  });
  box.append(form);
  return box;
}

function alert_(error) { $("#refreshed").textContent = `— ${error.message}`; }

async function showAlerts() {
  const alerts = await api("GET", "/v1/alerts");
  const order = { critical: 0, warning: 1, info: 2 };
  alerts.sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3) || (b.since || 0) - (a.since || 0));
  const body = $("#alerts tbody");
  body.replaceChildren();
  for (const a of alerts) {
    const row = body.insertRow();
    row.dataset.fingerprint = a.fingerprint;
    row.dataset.rule = a.rule_id;
    row.dataset.site = a.site;
    cell(row, a.status, `status-${a.status}`);
    cell(row, element("span", a.severity, { class: `severity-${a.severity}` }));
    cell(row, siteOf(a));
    cell(row, whatOf(a));
    cell(row, when(a.since));
    cell(row, element("span", a.source, { class: "muted" }));
    cell(row, ackOf(a));
  }
  $("#no-alerts").hidden = alerts.length > 0;
  $("#refreshed").textContent = `· updated ${when(Date.now() / 1000)}`;
}

async function showMaintenance() {
  const windows = await api("GET", "/v1/maintenance");
  const body = $("#maintenance tbody");
  body.replaceChildren();
  for (const w of windows) {
    const row = body.insertRow();
    cell(row, w.site);
    cell(row, when(w.starts_at));
    cell(row, when(w.ends_at));
    cell(row, w.by);
    cell(row, w.comment);
    const end = element("button", "End now");
    end.addEventListener("click", async () => {
      try { await api("DELETE", `/v1/maintenance/${w.id}`); await showMaintenance(); }
      catch (error) { $("#maintenance-error").textContent = error.message; }
    });
    cell(row, end);
  }
}

async function showHistory(site) {
  const records = await api("GET", `/v1/history?site=${encodeURIComponent(site)}&limit=50`);
  const body = $("#history tbody");
  body.replaceChildren();
  for (const r of records) {
    const row = body.insertRow();
    cell(row, when(r.recorded_at));
    cell(row, r.status);
    cell(row, r.rule_id);
    cell(row, r.value === undefined ? "" : `${r.value} ${r.unit || ""}`);
    const detail = r.historical ? "historical incident (backfilled history; nobody was paged)"
      : (r.comment || r.by || (r.suppressed || []).join(", "));
    cell(row, detail);
  }
}

async function refresh() {
  try {
    await showAlerts();
    await showMaintenance();
  } catch (error) {
    if (error.status === 401 || error.status === 403) return logout(error.message);
    alert_(error);
  }
}

function logout(reason) {
  sessionStorage.removeItem(storageKey);
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#login-section").hidden = false;
  $("#login-error").textContent = reason || "";
}

async function login(candidate) {
  sessionStorage.setItem(storageKey, candidate);
  try {
    await showAlerts();
  } catch (error) {
    return logout(error.status === 401 ? "That key is unknown or revoked." : error.message);
  }
  $("#login-section").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  await refresh();
}

$("#login").addEventListener("submit", (event) => { event.preventDefault(); login($("#key").value.trim()); });
$("#logout").addEventListener("click", () => logout());
$("#new-window").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  try {
    // datetime-local is naive: the deployment's local time, as the API reads a time without an offset.
    await api("POST", "/v1/maintenance", {
      site: data.get("site"), starts_at: new Date().toISOString(), ends_at: data.get("ends_at"),
      comment: data.get("comment"),
    });
    $("#maintenance-error").textContent = "";
    await showMaintenance();
  } catch (error) { $("#maintenance-error").textContent = error.message; }
});
$("#history-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showHistory(new FormData(event.target).get("site")).catch(alert_);
});

if (key()) login(key());
setInterval(() => { if (key()) refresh(); }, 10000);
