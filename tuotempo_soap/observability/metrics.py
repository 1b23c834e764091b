"""Every Prometheus metric of the project, and the small functions that change them.

The rest of the code calls the functions below and never prometheus_client,
so no metric, label or label value appears anywhere else. Label values are
names from our own code (operations, fault codes, outcomes) or from the
operator's configuration (providers of the senders file, clinics: the names of
instances with a clinic integration), never a request value; a value outside
its set is counted as ``other``, so the number of series stays bounded.
Instance names are a label only on the per-clinic poll figures: SOAP traffic
is counted per operation, not per instance (an unauthenticated request names
any instance it likes, and tenants times operations times faultcodes would
multiply the series for little gain; the log lines carry the instance).

Each function makes one update whatever the size of the work it counts (a
batch's items are one observation, a round of sends one increment per
provider and outcome), so the hot paths pay next to nothing.

Under gunicorn (``gunicorn.conf.py``) every process writes its values to files
in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape adds up all the files
(``multiprocess``); without that variable (tests, ``serve``) the values live in
this process's registry. Figures read from the database at scrape time (the
outbox's depth, the clinics' poll lag) come from ``DatabaseCollector``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ParamSpec

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from . import multiprocess

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Read once, as prometheus_client itself does when it is imported.
MULTIPROCESS_DIR = os.environ.get(multiprocess.ENV) or None

OTHER = "other"
SOAP_OPERATIONS = frozenset(
    {"updateReservations", "getReservations", "updateMessages", "searchMessages", "wsdl", "unknown"}
)
# The JSON API's operations (web/jsonapi/routes.py), counted in the same series
# as SOAP's: one dashboard shows both ways in, told apart by the prefix.
JSON_OPERATIONS = frozenset(
    {"json.updateMessages", "json.searchMessages", "json.openapi", "json.unknown"}
)
# Faultcodes are constants of our code (soap/faults.py, errors.py); the pattern
# is the net under that.
_FAULT_CODE = re.compile(r"(?:Client|Server)(?:\.[A-Za-z]{1,48})?|VersionMismatch")
# Provider and instance names as the senders file and ``instance create`` allow them.
_CONFIGURED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
SEND_OUTCOMES = frozenset({"sent", "retry", "failed"})
RECEIPT_RESULTS = frozenset({"applied", "ignored", "unknown", "refused", "invalid"})
POLL_RESULTS = frozenset({"ok", "failed", "skipped"})
ANSWER_CHANNELS = frozenset({"sms", "voice", "email"})
_ANSWER_RESULT = re.compile(r"[a-z_]{1,32}")

log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()

SOAP_REQUESTS = Counter(
    "tuotempo_soap_requests",
    "SOAP requests (and JSON API requests, operation json.*) answered, by operation and "
    "faultcode (fault is empty for an answer)",
    ["operation", "fault"],
    registry=REGISTRY,
)
SOAP_DURATION = Histogram(
    "tuotempo_soap_request_duration_seconds",
    "Time from reading a SOAP request to its answer, by operation and result (ok or fault)",
    ["operation", "result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
SOAP_BATCH_ITEMS = Histogram(
    "tuotempo_soap_batch_items",
    "Items per updateReservations / updateMessages call",
    ["operation"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
    registry=REGISTRY,
)
SENDS = Counter(
    "tuotempo_dispatch_sends",
    "Send attempts of the outbox worker, by provider and outcome (sent, retry, failed)",
    ["provider", "outcome"],
    registry=REGISTRY,
)
RECEIPTS = Counter(
    "tuotempo_dispatch_receipts",
    "Delivery receipts received, by provider and result "
    "(applied, ignored, unknown message, refused credentials, invalid body)",
    ["provider", "result"],
    registry=REGISTRY,
)
POLLS = Counter(
    "tuotempo_clinic_polls",
    "Polls of clinics' web services, by clinic (instance) and result (ok, failed, skipped)",
    ["clinic", "result"],
    registry=REGISTRY,
)
REMINDERS_PLANNED = Counter(
    "tuotempo_reminders_planned",
    "Reminders the planner created (planned) or withdrew (cancelled)",
    ["action"],
    registry=REGISTRY,
)
REMINDERS_SENT = Counter(
    "tuotempo_reminders_sent",
    "Due reminders handed to the outbox (queued) or dropped (skipped: superseded, "
    "cancelled or past appointment, no usable recipient)",
    ["outcome"],
    registry=REGISTRY,
)
ANSWERS = Counter(
    "tuotempo_answers",
    "Patients' answers, by channel (sms, voice, email) and result "
    "(confirmed, cancelled, unknown_sender, refused, ...)",
    ["channel", "result"],
    registry=REGISTRY,
)


_P = ParamSpec("_P")
_failed: set[str] = set()


def _never_fails(update: Callable[_P, None]) -> Callable[_P, None]:
    """Counting must never break the work it counts (a full disk under the
    multiprocess files, say): a failure is logged once per function and dropped."""

    @functools.wraps(update)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            update(*args, **kwargs)
        except Exception as exc:
            if update.__name__ not in _failed:
                _failed.add(update.__name__)
                log.warning("metrics: %s failed (%s)", update.__name__, type(exc).__name__)

    return guarded


def _fault_label(code: str | None) -> str:
    if not code:
        return ""
    return code if _FAULT_CODE.fullmatch(code) else OTHER


def _name_label(name: str | None) -> str:
    return name if name and _CONFIGURED_NAME.fullmatch(name) else OTHER


def _one_of(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


@_never_fails
def observe_soap_request(operation: str | None, fault: str | None, seconds: float) -> None:
    """One SOAP request answered: ``fault`` is the faultcode sent, None for an answer."""
    name = _one_of(operation or "unknown", SOAP_OPERATIONS)
    SOAP_REQUESTS.labels(name, _fault_label(fault)).inc()
    SOAP_DURATION.labels(name, "fault" if fault else "ok").observe(seconds)


@_never_fails
def observe_json_request(operation: str | None, fault: str | None, seconds: float) -> None:
    """One JSON API request answered, in the SOAP requests' series: ``fault`` is
    the error code sent, None for an answer."""
    name = _one_of(operation or "json.unknown", JSON_OPERATIONS)
    SOAP_REQUESTS.labels(name, _fault_label(fault)).inc()
    SOAP_DURATION.labels(name, "fault" if fault else "ok").observe(seconds)


@_never_fails
def observe_batch(operation: str, items: int) -> None:
    SOAP_BATCH_ITEMS.labels(_one_of(operation, SOAP_OPERATIONS)).observe(items)


@_never_fails
def count_sends(outcomes: Iterable[tuple[str, str]]) -> None:
    """Send outcomes, one ``(provider, outcome)`` per message."""
    for (provider, outcome), count in Tally(outcomes).items():
        SENDS.labels(_name_label(provider), _one_of(outcome, SEND_OUTCOMES)).inc(count)


@_never_fails
def count_receipt(provider: str, result: str) -> None:
    """``provider`` must be a configured one (the path of a request names any)."""
    RECEIPTS.labels(_name_label(provider), _one_of(result, RECEIPT_RESULTS)).inc()


@_never_fails
def count_poll(clinic: str, result: str) -> None:
    POLLS.labels(_name_label(clinic), _one_of(result, POLL_RESULTS)).inc()


@_never_fails
def count_reminders_planned(planned: int, cancelled: int) -> None:
    if planned:
        REMINDERS_PLANNED.labels("planned").inc(planned)
    if cancelled:
        REMINDERS_PLANNED.labels("cancelled").inc(cancelled)


@_never_fails
def count_reminders_sent(queued: int, skipped: int) -> None:
    if queued:
        REMINDERS_SENT.labels("queued").inc(queued)
    if skipped:
        REMINDERS_SENT.labels("skipped").inc(skipped)


@_never_fails
def count_answer(channel: str, result: str) -> None:
    result = result.lower()
    ANSWERS.labels(
        _one_of(channel.lower(), ANSWER_CHANNELS),
        result if _ANSWER_RESULT.fullmatch(result) else OTHER,
    ).inc()


# --- figures read from the database at scrape time ---------------------------


@dataclass(frozen=True)
class OutboxFigure:
    provider: str
    waiting: int  # QUEUED or SENDING
    due: int  # of those, due to be sent now
    oldest_due_age_seconds: float  # 0 when none is due


@dataclass(frozen=True)
class PollFigure:
    clinic: str
    lag_seconds: float | None  # since the last successful poll; None: never succeeded
    consecutive_failures: int


@dataclass(frozen=True)
class DatabaseFigures:
    outbox: Sequence[OutboxFigure]
    polls: Sequence[PollFigure]


class DatabaseCollector:
    """Gauges read at scrape time by ``read`` (one query or two, never per item);
    when the database does not answer, ``tuotempo_metrics_database_up`` is 0
    and those gauges are left out."""

    def __init__(self, read: Callable[[], DatabaseFigures]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tuotempo_metrics_database_up",
            "1 when the scrape could read the outbox and poll figures from the database",
        )
        try:
            figures = self._read()
        except Exception as exc:  # a scrape still answers with the counters
            log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        waiting = GaugeMetricFamily(
            "tuotempo_outbox_waiting_messages",
            "Messages waiting in the outbox (queued or being sent), by provider",
            labels=["provider"],
        )
        due = GaugeMetricFamily(
            "tuotempo_outbox_due_messages",
            "Messages due to be sent now, by provider",
            labels=["provider"],
        )
        oldest = GaugeMetricFamily(
            "tuotempo_outbox_oldest_due_age_seconds",
            "How long the oldest due message has been waiting past its due time, by provider",
            labels=["provider"],
        )
        for figure in figures.outbox:
            provider = _name_label(figure.provider)
            waiting.add_metric([provider], figure.waiting)
            due.add_metric([provider], figure.due)
            oldest.add_metric([provider], figure.oldest_due_age_seconds)
        lag = GaugeMetricFamily(
            "tuotempo_clinic_poll_lag_seconds",
            "Seconds since the last successful poll of a clinic (clinics that never "
            "succeeded are left out)",
            labels=["clinic"],
        )
        failures = GaugeMetricFamily(
            "tuotempo_clinic_poll_consecutive_failures",
            "Failed polls of a clinic since its last successful one",
            labels=["clinic"],
        )
        for poll in figures.polls:
            clinic = _name_label(poll.clinic)
            if poll.lag_seconds is not None:
                lag.add_metric([clinic], poll.lag_seconds)
            failures.add_metric([clinic], poll.consecutive_failures)
        yield from (waiting, due, oldest, lag, failures)


def exposition(database: DatabaseCollector | None = None) -> bytes:
    """The text a scrape answers: this process's values, or every process's
    under gunicorn, and the database figures."""
    parts = []
    if database is not None:
        scraped = CollectorRegistry()
        scraped.register(database)
        parts.append(generate_latest(scraped))
    if MULTIPROCESS_DIR is None:
        parts.append(generate_latest(REGISTRY))
    else:
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=MULTIPROCESS_DIR)
        # Shared with other scrapes, exclusive with a dead worker's files being
        # folded into the archive: never counted twice or not at all.
        with multiprocess.reading(MULTIPROCESS_DIR):
            parts.append(generate_latest(merged))
    return b"".join(parts)
