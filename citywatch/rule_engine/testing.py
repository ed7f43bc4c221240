"""Rule unit tests (`citywatch rules test FILE...`), in the spirit of `promtool test rules`.

A test file names rule files and gives test cases: input indicator series (one value per `interval` from `start`,
promtool's expanding notation) and the alerts expected at given evaluation times. The run is pure: records are
evaluated in event-time order, each outcome goes through the lifecycle (`lifecycle.apply`), staleness rules are
judged by a timer ticking every `evaluation_interval` on a processing clock equal to event time (each record
"arrives" at its event time). The alerts of a rule at an evaluation time are all its non-inactive fingerprints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.rule_engine.duration import Duration, format_duration
from citywatch.rule_engine.evaluation import RuleEvaluation, Sample, evaluate, evaluate_staleness, remember
from citywatch.rule_engine.kinds import kind_of
from citywatch.rule_engine.lifecycle import AlertState, Status, apply
from citywatch.rule_engine.model import PERIOD_TO_DATE_WINDOWS, Rule
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import Registry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSeries(_Strict):
    indicator: str
    site: str
    values: str = Field(description='Space-separated: 70 76 _ 74, or expanding "1+2x3" = 1 3 5 7, "_x2" = 2 gaps')
    statuses: str | None = Field(None, description="Record statuses aligned with values, e.g. on-track at-riskx2")
    labels: dict[str, str] = Field(default_factory=dict)
    samples: str | None = Field(
        None,
        description="Record samples aligned with values, like `values` (e.g. 10+1x5); by default 1, and for a "
        "year-to-date indicator the local day of the year (a figure of the year so far rests on its days)",
    )


class ExpectedAlert(_Strict):
    site: str
    state: Literal["pending", "firing", "resolved"]


class AlertTest(_Strict):
    eval_time: Duration = Field(description="Offset from the test's start")
    rule: str
    alerts: list[ExpectedAlert] = Field(default_factory=list, description="Exactly these alerts of the rule")


class RuleTestCase(_Strict):
    name: str
    start: AwareDatetime
    interval: Duration
    evaluation_interval: Duration | None = Field(None, description="Staleness timer tick; `interval` by default")
    input_series: list[InputSeries] = Field(default_factory=list)
    alert_rule_test: list[AlertTest] = Field(min_length=1)


class RuleTestFile(_Strict):
    rule_files: list[str] = Field(min_length=1, description="Relative to the test file")
    registry: str | None = Field(None, description="Relative to the test file; the settings' registry by default")
    timezone: str = "Asia/Shanghai"
    tests: list[RuleTestCase] = Field(min_length=1)


_EXPAND = re.compile(r"^(-?[0-9.]+(?:e-?[0-9]+)?)(?:([+-])([0-9.]+(?:e-?[0-9]+)?))?x([0-9]+)$")
_REPEAT = re.compile(r"^(.+)x([0-9]+)$")


def expand_values(text: str) -> list[float | None]:
    """promtool's notation: "1 2 _ 3", "1+2x3" = 1 3 5 7, "5x2" = 5 5 5, "_x3" = three gaps."""
    out: list[float | None] = []
    for token in text.split():
        if token == "_":
            out.append(None)
        elif re.fullmatch(r"_x[0-9]+", token):
            out += [None] * int(token[2:])
        elif (m := _EXPAND.match(token)) is not None:
            first, sign, step, times = m.groups()
            delta = float(step or 0) * (-1 if sign == "-" else 1)
            out += [float(first) + delta * n for n in range(int(times) + 1)]
        else:
            try:
                out.append(float(token))
            except ValueError:
                raise ValueError(f"bad value {token!r}: expected a number, _, a+bxn or axn") from None
    return out


def expand_statuses(text: str) -> list[str | None]:
    out: list[str | None] = []
    for token in text.split():
        m = _REPEAT.match(token)
        name, times = (m.group(1), int(m.group(2)) + 1) if m else (token, 1)
        out += [None if name == "_" else name] * times
    return out


def series_records(series: InputSeries, start: datetime, interval: timedelta, zone: ZoneInfo) -> list[IndicatorRecord]:
    indicator = CATALOGUE[series.indicator]
    values = expand_values(series.values)
    statuses = expand_statuses(series.statuses) if series.statuses else []
    counts = expand_values(series.samples) if series.samples else []
    out = []
    for n, value in enumerate(values):
        if value is None:
            continue
        at = start + n * interval
        out.append(
            IndicatorRecord(
                indicator=indicator.id,
                site=series.site,
                value=value,
                unit=indicator.unit,
                window=indicator.window,
                observed_at=at,
                local_date=at.astimezone(zone).date(),
                samples=_samples(counts, n, indicator.window, at.astimezone(zone).date()),
                status=statuses[n] if n < len(statuses) else None,
                labels=series.labels,
            )
        )
    return out


def _samples(counts: Sequence[float | None], n: int, window: str, day: date) -> int:
    if n < len(counts) and counts[n] is not None:
        return int(counts[n] or 0)
    return day.timetuple().tm_yday if window in PERIOD_TO_DATE_WINDOWS else 1


@dataclass
class Run:
    """The state of one test case's run: lifecycle per fingerprint, history per (rule, site), last arrivals."""

    rules: Sequence[Rule]
    watch_started: datetime
    states: dict[str, AlertState] = field(default_factory=dict)
    owners: dict[str, tuple[str, str]] = field(default_factory=dict)  # fingerprint -> (rule id, site)
    history: dict[tuple[str, str], tuple[Sample, ...]] = field(default_factory=dict)
    last_seen: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (indicator, site) -> arrival

    def _apply(self, ev: RuleEvaluation) -> None:
        state = self.states.get(ev.fingerprint, AlertState(ev.fingerprint))
        step = apply(
            state, ev.outcome, ev.observed_at.timestamp(), for_s=ev.for_s, keep_firing_for_s=ev.keep_firing_for_s
        )
        self.states[ev.fingerprint] = step.state
        self.owners[ev.fingerprint] = (ev.rule_id, ev.site)

    def record(self, record: IndicatorRecord) -> None:
        self.last_seen[(record.indicator, record.site)] = record.observed_at
        for rule in self.rules:
            if rule.indicator != record.indicator:
                continue
            key = (rule.id, record.site)
            earlier = self.history.get(key, ())
            ev = evaluate(rule, record, earlier)
            if rule.scope.includes(record.site):
                self.history[key] = remember(rule, earlier, record)
            if ev is not None:
                self._apply(ev)

    def tick(self, now: datetime, expected_sites: dict[str, list[str]]) -> None:
        for rule in self.rules:
            for site in expected_sites.get(rule.id, []):
                last = self.last_seen.get((rule.indicator, site), self.watch_started)
                ev = evaluate_staleness(rule, site, last, now)
                if ev is not None:
                    self._apply(ev)

    def alerts(self, rule_id: str) -> list[tuple[str, str]]:
        return sorted(
            (self.owners[fp][1], str(state.status))
            for fp, state in self.states.items()
            if self.owners[fp][0] == rule_id and state.status is not Status.INACTIVE
        )


def staleness_sites(rules: Iterable[Rule], case: RuleTestCase, registry: Registry | None) -> dict[str, list[str]]:
    """The sites each staleness rule expects data from: its scope in the registry (or the sites the test feeds)."""
    out: dict[str, list[str]] = {}
    for rule in rules:
        if not kind_of(rule).on_clock:
            continue
        feed = CATALOGUE[rule.indicator].feed
        candidates = (
            [s.id for s in registry.sites_for_feed(feed)]
            if registry is not None
            else sorted({s.site for s in case.input_series})
        )
        if rule.scope.sites != "*":
            candidates = [s for s in candidates if s in rule.scope.sites] or list(rule.scope.sites)
        out[rule.id] = [s for s in candidates if rule.scope.includes(s)]
    return out


def run_case(rules: Sequence[Rule], case: RuleTestCase, zone: ZoneInfo, registry: Registry | None = None) -> list[str]:
    """Failures of one test case (empty when it passes)."""
    failures: list[str] = []
    known = {r.id for r in rules}
    records: list[IndicatorRecord] = []
    for n, series in enumerate(case.input_series):
        if series.indicator not in CATALOGUE:
            failures.append(f"input_series[{n}]: unknown indicator {series.indicator!r}")
            continue
        try:
            records += series_records(series, case.start, case.interval, zone)
        except ValueError as exc:
            failures.append(f"input_series[{n}]: {exc}")
    if failures:
        return failures
    tick = case.evaluation_interval or case.interval
    last_eval = max(t.eval_time for t in case.alert_rule_test)
    ticks = {case.start + n * tick for n in range(int(last_eval / tick) + 1)}
    ticks |= {case.start + t.eval_time for t in case.alert_rule_test}
    # Records before ticks at the same instant: a record arriving at t counts for the timer at t.
    timeline: list[tuple[datetime, int, int]] = [(r.observed_at, 0, i) for i, r in enumerate(records)]
    timeline += [(t, 1, 0) for t in ticks]
    timeline.sort(key=lambda item: (item[0], item[1], item[2]))
    run = Run(rules, case.start)
    expected_sites = staleness_sites(rules, case, registry)
    done = 0
    for check in sorted(case.alert_rule_test, key=lambda t: t.eval_time):
        now = case.start + check.eval_time
        while done < len(timeline) and timeline[done][0] <= now:
            at, what, index = timeline[done]
            if what == 0:
                run.record(records[index])
            else:
                run.tick(at, expected_sites)
            done += 1
        if check.rule not in known:
            failures.append(f"eval_time {format_duration(check.eval_time)}: unknown rule {check.rule!r}")
            continue
        got = run.alerts(check.rule)
        want = sorted((a.site, a.state) for a in check.alerts)
        if got != want:
            failures.append(
                f"rule {check.rule} at eval_time {format_duration(check.eval_time)}: "
                f"expected {_show(want)}, got {_show(got)}"
            )
    return failures


def _show(alerts: Sequence[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{site} {state}" for site, state in alerts) + "]" if alerts else "no alerts"


@dataclass(frozen=True)
class FileResult:
    file: str
    cases: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def run_test_file(path: Path, registry: Registry | None = None) -> FileResult:
    """Run every case of a rule test file; problems loading it count as failures."""
    from citywatch.rule_engine.loader import default_registry, load_paths
    from citywatch.site_registry import RegistryError, load_registry

    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = RuleTestFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        return FileResult(name, 0, [f"cannot read the test file: {exc}"])
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return FileResult(name, 0, errors)
    try:
        if spec.registry is not None:
            registry = load_registry(path.parent / spec.registry)
        elif registry is None:
            registry = default_registry()
    except (OSError, RegistryError) as exc:
        return FileResult(name, 0, [f"registry: {exc}"])
    loaded = load_paths([path.parent / f for f in spec.rule_files], registry)
    if loaded.problems:
        return FileResult(name, 0, [f"rule file problem: {p}" for p in loaded.problems])
    if registry is None and any(r.needs_registry for r in loaded.rules):
        return FileResult(name, 0, ["rules select sites by label: give the test file a `registry`"])
    zone = ZoneInfo(spec.timezone)
    failures = []
    for case in spec.tests:
        failures += [f"{case.name}: {f}" for f in run_case(loaded.rules, case, zone, registry)]
    return FileResult(name, len(spec.tests), failures)


def rules_expecting_alerts(path: Path) -> set[str]:
    """Rule ids a test file expects at least one alert from (for the every-rule-is-tested check)."""
    spec = RuleTestFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return {t.rule for case in spec.tests for t in case.alert_rule_test if t.alerts}
