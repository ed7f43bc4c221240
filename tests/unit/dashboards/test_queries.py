"""Every panel queries something, every metric it names exists, every variable is defined and used."""

from __future__ import annotations

from typing import Any

import yaml

from tools.dashboard_builder import metrics, recording, walk
from tools.devstack.config import REPO_ROOT


def _shipped_records() -> set[str]:
    shipped = yaml.safe_load((REPO_ROOT / recording.RULES_FILE).read_text(encoding="utf-8"))
    return {rule["record"] for group in shipped["groups"] for rule in group["rules"]}


def test_every_panel_has_a_query(committed: dict[str, dict[str, Any]]) -> None:
    for uid, board in committed.items():
        for panel in walk.panels(board):
            exprs = [t.get("expr", "") for t in panel.get("targets") or []]
            assert exprs and all(e.strip() for e in exprs), f"{uid}: panel {panel['title']!r} has no query"


def test_every_metric_in_a_query_exists(committed: dict[str, dict[str, Any]]) -> None:
    known = metrics.known_metrics(_shipped_records())
    for board in committed.values():
        texts = [(q.panel, walk.metric_names(q.expr), q.expr) for q in walk.queries(board)]
        texts += [
            (f"variable {v['name']}", walk.variable_metric_names(walk.variable_query(v)), walk.variable_query(v))
            for v in walk.variables(board)
        ]
        for where, names, expr in texts:
            unknown = names - known
            assert not unknown, f"{board['uid']} {where}: unknown metric(s) {sorted(unknown)} in {expr}"


def test_metric_names_reads_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (feed, le) (rate(a_bucket{x="$site"}[$__rate_interval])))'
        ' * on (site) group_left (name, lat) b{feed=~"air|water"} or c:d:e'
    )
    assert walk.metric_names(expr) == {"a_bucket", "b", "c:d:e"}


def test_variable_metric_names() -> None:
    assert walk.variable_metric_names('label_values(a{x=~"$y"}, department)') == {"a"}
    assert walk.variable_metric_names('query_result(b{feed=~"air"})') == {"b"}


def test_pipeline_metric_names_are_the_exposed_ones() -> None:
    names = metrics.pipeline_metrics()
    assert metrics.WORKER_READINGS == "citywatch_worker_readings_total"
    assert metrics.ALERT_STATE == "citywatch_alert_state"
    assert f"{metrics.WORKER_LATENCY}_bucket" in names
    assert {metrics.FAUST_END_OFFSET, metrics.FAUST_COMMITTED_OFFSET} <= names


def test_variables_are_defined_and_used(committed: dict[str, dict[str, Any]]) -> None:
    for uid, board in committed.items():
        defined = {v["name"] for v in walk.variables(board)}
        exprs = [q.expr for q in walk.queries(board)]
        variable_queries = [walk.variable_query(v) for v in walk.variables(board)]
        used_by_panels = set().union(*(walk.variables_used(e) for e in exprs))
        used_anywhere = used_by_panels.union(*(walk.variables_used(q) for q in variable_queries))
        assert used_anywhere - walk.GRAFANA_BUILTINS <= defined, uid
        assert defined <= used_anywhere, f"{uid}: unused variables {sorted(defined - used_anywhere)}"
        assert defined & used_by_panels, f"{uid}: no panel query uses a variable"


def test_site_level_dashboards_have_department_and_site(committed: dict[str, dict[str, Any]]) -> None:
    for uid in ("overview", "air", "water", "bus", "waste", "alerts"):
        names = [v["name"] for v in walk.variables(committed[f"citywatch-{uid}"])]
        assert names == ["department", "site"], uid


def test_substitute_refuses_an_unknown_variable() -> None:
    assert walk.substitute('x{site=~"$site"}[${__range}]', {"site": "a|b", "__range": "1h"}) == 'x{site=~"a|b"}[1h]'
    try:
        walk.substitute("x{site=~'$nope'}", {})
    except KeyError as exc:
        assert "$nope" in str(exc)
    else:
        raise AssertionError("expected KeyError")
