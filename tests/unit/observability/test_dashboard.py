"""deploy/grafana-dashboard.json: valid JSON whose queries name only metrics
the server exposes, and every metric the server exposes is on it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuotempo_soap.observability import metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana-dashboard.json"
# A metric name in PromQL; ours all start with tuotempo_ (labels, functions and
# keywords never do).
_NAME = re.compile(r"\btuotempo_[a-zA-Z0-9_:]*")


def _expressions(node: Any) -> Iterator[str]:
    """Every PromQL string of the dashboard: panel targets and variable queries."""
    if isinstance(node, dict):
        for key, item in node.items():
            # "query" is also a variable's type ("prometheus"): only calls count.
            promql = key in ("expr", "definition") or (key == "query" and "(" in str(item))
            if promql and isinstance(item, str):
                yield item
            else:
                yield from _expressions(item)
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item)


def _exposed() -> dict[str, set[str]]:
    """The sample names each metric family of the server exposes (histograms:
    _bucket, _sum, _count; counters: _total), the scrape-time gauges included."""
    figures = metrics.DatabaseFigures(
        outbox=[metrics.OutboxFigure("sms-gw", 3, 1, 12.0)],
        polls=[metrics.PollFigure("tt_clinic", 30.0, 0)],
    )
    families = [
        *metrics.REGISTRY.collect(),
        *metrics.DatabaseCollector(lambda: figures).collect(),
    ]
    exposed: dict[str, set[str]] = {}
    for family in families:
        if family.type == "counter":
            names = {f"{family.name}_total"}
        elif family.type == "histogram":
            names = {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names = {family.name}
        exposed[family.name] = names
    return exposed


def test_the_dashboard_loads_and_uses_only_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["panels"]
    expressions = list(_expressions(dashboard))
    assert len(expressions) >= 20
    exposed = _exposed()
    known = set().union(*exposed.values())
    used: set[str] = set()
    for expression in expressions:
        assert expression.count("(") == expression.count(")"), expression
        assert expression.count("{") == expression.count("}"), expression
        names = set(_NAME.findall(expression))
        assert names, f"no metric in {expression!r}"
        assert names <= known, f"{sorted(names - known)} are not exposed: {expression!r}"
        used |= names
    unused = sorted(family for family, names in exposed.items() if not names & used)
    assert unused == [], f"metrics the dashboard does not show: {unused}"


def test_every_panel_has_a_place_and_an_id() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["refId"] and target["expr"], panel["title"]
