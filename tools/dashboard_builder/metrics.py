"""Every Prometheus metric the dashboards query, named from where it is defined.

Indicator metrics come from the catalogue (`Indicator.metric`); pipeline metrics from the prometheus_client objects
of the processes that export them (their exposition names: a counter gets `_total`, a histogram `_bucket`, `_sum`
and `_count`); faust's sensor metrics from faust's own factory under the worker's prefix. `SITE_INFO` is the one
worker's registry info metric lists the sites (see `streams.metrics.site_info_labels`).
"""

from __future__ import annotations

from collections.abc import Iterable

from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.schemas import receipt
from services.alerts import metrics as alert_metrics
from services.ingest import metrics as ingest_metrics
from services.simulator import metrics as simulator_metrics
from streams import metrics as worker_metrics


def _family(metric: MetricWrapperBase) -> Metric:
    return next(iter(metric.describe()))


def exposed_name(metric: MetricWrapperBase) -> str:
    """The name a metric object is scraped under (counters carry `_total`; histograms add suffixes to it)."""
    family = _family(metric)
    return f"{family.name}_total" if family.type == "counter" else family.name


def _exposed_names(metric: MetricWrapperBase) -> tuple[str, ...]:
    name = exposed_name(metric)
    if _family(metric).type == "histogram":
        return (f"{name}_bucket", f"{name}_sum", f"{name}_count")
    return (name,)


# --- the citywatch processes ----------------------------------------------------------------------------------------
WORKER_READINGS = exposed_name(worker_metrics.READINGS)
WORKER_DEAD_LETTERS = exposed_name(worker_metrics.DEAD_LETTERS)
WORKER_EVALUATIONS = exposed_name(worker_metrics.EVALUATIONS)
WORKER_LATENCY = exposed_name(worker_metrics.LATENCY)
WORKER_EVENT_TIME_LAG = exposed_name(worker_metrics.EVENT_TIME_LAG)
INGEST_RECORDS = exposed_name(ingest_metrics.RECORDS)
INGEST_REQUEST_SECONDS = exposed_name(ingest_metrics.REQUEST_SECONDS)
ALERT_STATE = exposed_name(alert_metrics.ALERT_STATE)
ALERT_TRANSITIONS = exposed_name(alert_metrics.TRANSITIONS)
ALERT_DELIVERY_ERRORS = exposed_name(alert_metrics.DELIVERY_ERRORS)
SIMULATOR_READINGS = exposed_name(simulator_metrics.POSTED)

_PROCESS_METRICS: tuple[MetricWrapperBase, ...] = (
    worker_metrics.READINGS,
    worker_metrics.DEAD_LETTERS,
    worker_metrics.EVALUATIONS,
    worker_metrics.LATENCY,
    worker_metrics.EVENT_TIME_LAG,
    worker_metrics.CONSUMER_LAG,
    worker_metrics.SITE_INFO,
    ingest_metrics.RECORDS,
    ingest_metrics.REQUEST_SECONDS,
    alert_metrics.ALERT_STATE,
    alert_metrics.TRANSITIONS,
    alert_metrics.EVALUATIONS,
    alert_metrics.DELIVERY_ERRORS,
    simulator_metrics.POSTED,
    simulator_metrics.SIM_TIME,
)

# Worker outcomes (`citywatch_worker_readings_total{outcome}`, the verdicts `citywatch.schemas.receipt` names) and
# the gateway outcomes (`citywatch_ingest_records_total`) that are dead letters: rejected, forbidden and conflict
# (409). The worker counts its dead letters apart (`citywatch_worker_dead_letters_total`).
WORKER_OUTCOMES = receipt.WORKER_OUTCOMES
INGEST_DEAD_LETTER_OUTCOMES = ("rejected", "forbidden", "conflict")

# --- faust's sensor (streams/app.py creates FaustMetrics with this prefix) -----------------------
FAUST_PREFIX = worker_metrics.FAUST_PREFIX


def _faust_metric_names(prefix: str) -> tuple[str, ...]:
    metrics = FaustMetrics.create(CollectorRegistry(), prefix)
    names: list[str] = []
    for value in metrics._asdict().values():
        if isinstance(value, MetricWrapperBase):
            names.extend(_exposed_names(value))
    return tuple(names)


FAUST_METRICS = _faust_metric_names(FAUST_PREFIX)
FAUST_END_OFFSET = f"{FAUST_PREFIX}_topic_partition_end_offset"
FAUST_COMMITTED_OFFSET = f"{FAUST_PREFIX}_topic_partition_offset_commited"  # sic: faust's spelling

# --- the site registry as an info metric (exported by the worker) ---------------------------------------------------
SITE_INFO = exposed_name(worker_metrics.SITE_INFO)
SITE_INFO_LABELS = worker_metrics.SITE_INFO_LABELS
site_display_name = worker_metrics.site_display_name
site_info_labels = worker_metrics.site_info_labels


def indicator_metrics() -> frozenset[str]:
    return frozenset(i.metric for i in CATALOGUE.values())


def pipeline_metrics() -> frozenset[str]:
    names: list[str] = [n for m in _PROCESS_METRICS for n in _exposed_names(m)]
    names.extend(FAUST_METRICS)
    return frozenset(names)


def known_metrics(extra: Iterable[str] = ()) -> frozenset[str]:
    """Every metric name a dashboard query may use: indicators, pipeline metrics, `SITE_INFO` and `extra`
    (recording rules)."""
    return indicator_metrics() | pipeline_metrics() | {SITE_INFO} | frozenset(extra)
