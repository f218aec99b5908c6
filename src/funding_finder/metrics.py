"""`/metrics` (Prometheus text format) and `/healthz`, as a Flask blueprint read from the store.

Both are computed from the database at each request, so `serve` (which collects nothing) reports the
cycles of whichever process collects into the same database, and `run` reports its own. The per-venue
figures are those of the newest finished cycle (gauges: a scrape every few minutes sees each cycle
once); `funding_finder_cycles_total` counts every stored cycle by status. Figures of the process that
serves (alerts sent, webhook failures, whether the loop runs) come from an optional `extra` callable.

/healthz answers 200 with a small JSON while the newest finished cycle ended less than `max_age_s`
ago and the collection loop (when this process has one) still runs; 503 otherwise, or when the
database cannot be read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from funding_finder.model import iso_utc
from funding_finder.store import CycleRecord, Store, StoreError
from funding_finder.store import cycles as cycles_table

log = logging.getLogger("funding_finder.metrics")

DEFAULT_MAX_AGE_S = 900.0
"""/healthz: seconds since the last finished cycle beyond which collection counts as stopped (three
default cycles of 5 min)."""

PREFIX = "funding_finder"


class StoreHandle:
    """The store, opened on first use from a database string (so an unreadable database is a 503,
    not a crash at start) and kept; a Store passed in is used as it is."""

    def __init__(self, store: Store | str) -> None:
        self._store = store if isinstance(store, Store) else None
        self._db = store if isinstance(store, str) else None
        self._lock = threading.Lock()

    def get(self) -> Store:
        with self._lock:
            if self._store is None:
                assert self._db is not None
                self._store = Store(self._db, must_exist=True)
            return self._store


def last_cycle(store: Store) -> CycleRecord | None:
    """The newest finished cycle (`complete` or `partial`), or None before the first."""
    found = store.cycles(1, finished_only=True)
    return found[0] if found else None


def cycle_counts(store: Store) -> dict[str, int]:
    """Stored cycles by status."""
    query = select(cycles_table.c.status, func.count()).group_by(cycles_table.c.status)
    with store.engine.connect() as conn:
        return {status: int(count) for status, count in conn.execute(query)}


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def venue_metrics(cycle: CycleRecord) -> list[Metric]:
    """Per venue of one cycle: rows, requests, failures by kind, duration, gate waits, 429s, pauses,
    limit use, status."""
    venue = ["exchange"]
    rows = _gauge("venue_rows", "Contracts stored for the venue in the last finished cycle.", venue)
    requests = _gauge("venue_requests", "HTTP calls the venue took in the last finished cycle.", venue)
    failures = _gauge(
        "venue_failures", "Failures by kind of the venue in the last finished cycle.", ["exchange", "kind"]
    )
    duration = _gauge("venue_duration_seconds", "Seconds the venue took in the last finished cycle.", venue)
    waits = _gauge(
        "venue_gate_wait_seconds",
        "Seconds the venue's calls waited at its rate gate in the last finished cycle, summed over calls.",
        venue,
    )
    limited = _gauge(
        "venue_rate_limited",
        "Answers of the venue that said too many requests (429 or a rate-limit code), last finished cycle.",
        venue,
    )
    pauses = _gauge(
        "venue_pauses",
        "Times a Retry-After or ban paused all the venue's calls, last finished cycle.",
        venue,
    )
    used = _gauge(
        "venue_limit_used",
        "Units counted in a declared limit's window when the venue finished (busiest bucket).",
        ["exchange", "limit"],
    )
    allowed = _gauge("venue_limit_allowed", "A declared limit's published capacity.", ["exchange", "limit"])
    status = _gauge(
        "venue_status", "1 for the venue's status in the last finished cycle.", ["exchange", "status"]
    )
    for run in cycle.venues:
        rows.add_metric([run.exchange], run.rows)
        requests.add_metric([run.exchange], run.requests)
        for kind, count in sorted(run.failures.items()):
            failures.add_metric([run.exchange, kind], count)
        duration.add_metric([run.exchange], run.duration_s)
        waits.add_metric([run.exchange], run.gate_wait_s)
        limited.add_metric([run.exchange], run.rate_limited)
        pauses.add_metric([run.exchange], run.pauses)
        for name, (units, capacity) in sorted(run.limits.items()):
            used.add_metric([run.exchange, name], units)
            allowed.add_metric([run.exchange, name], capacity)
        status.add_metric([run.exchange, run.status], 1)
    return [rows, requests, failures, duration, waits, limited, pauses, used, allowed, status]


def cycle_metrics(cycle: CycleRecord | None, counts: dict[str, int]) -> list[Metric]:
    total = CounterMetricFamily(f"{PREFIX}_cycles", "Stored collection cycles by status.", labels=["status"])
    for name, count in sorted(counts.items()):
        total.add_metric([name], count)
    found: list[Metric] = [total]
    if cycle is None or cycle.finished_at is None:
        return found
    duration = _gauge("last_cycle_duration_seconds", "Seconds from start to end of the last finished cycle.")
    duration.add_metric([], (cycle.finished_at - cycle.started_at).total_seconds())
    ended = _gauge("last_cycle_end_timestamp_seconds", "Unix time the last finished cycle ended.")
    ended.add_metric([], cycle.finished_at.timestamp())
    rows = _gauge("last_cycle_rows", "Contracts stored in the last finished cycle, all venues.")
    rows.add_metric([], sum(run.rows for run in cycle.venues))
    complete = _gauge("last_cycle_complete", "1 when every venue of the last finished cycle was ok.")
    complete.add_metric([], 1 if cycle.status == "complete" else 0)
    return [*found, duration, ended, rows, complete, *venue_metrics(cycle)]


class StoreCollector:
    """A prometheus_client collector that reads the store at each scrape."""

    def __init__(self, handle: StoreHandle, extra: Callable[[], Iterable[Metric]] | None = None) -> None:
        self.handle = handle
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        up = _gauge("store_up", "1 when the database could be read for this scrape.")
        try:
            store = self.handle.get()
            found = cycle_metrics(last_cycle(store), cycle_counts(store))
        except (SQLAlchemyError, StoreError) as exc:
            log.error("metrics: the database cannot be read: %s", exc)
            up.add_metric([], 0)
            found = []
        else:
            up.add_metric([], 1)
        yield up
        yield from found
        if self.extra is not None:
            yield from self.extra()


def health(
    handle: StoreHandle,
    max_age_s: float,
    collecting: Callable[[], bool] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of /healthz."""
    body: dict[str, Any] = {"max_age_s": max_age_s}
    if collecting is not None:
        body["collecting"] = collecting()
    try:
        cycle = last_cycle(handle.get())
    except (SQLAlchemyError, StoreError) as exc:
        return 503, {**body, "status": "database_unreadable", "error": str(exc).splitlines()[0]}
    if cycle is None or cycle.finished_at is None:
        return 503, {**body, "status": "no_cycle"}
    age_s = (now() - cycle.finished_at).total_seconds()
    body["last_cycle"] = {
        "id": cycle.id,
        "status": cycle.status,
        "started_at": iso_utc(cycle.started_at),
        "finished_at": iso_utc(cycle.finished_at),
        "age_s": round(age_s, 1),
        "rows": sum(run.rows for run in cycle.venues),
    }
    if body.get("collecting") is False:
        return 503, {**body, "status": "stopped"}
    if age_s > max_age_s:
        return 503, {**body, "status": "stale"}
    return 200, {**body, "status": "ok"}


def metrics_blueprint(
    store: Store | str,
    *,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    collecting: Callable[[], bool] | None = None,
    extra: Callable[[], Iterable[Metric]] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Blueprint:
    """`/metrics` and `/healthz` for an app. `store`: an open Store or a database string/URL.
    `max_age_s`: seconds since the last finished cycle that are still healthy. `collecting`: this
    process's collection loop is running (None: the process does not collect, as `serve`). `extra`:
    more metric families (the process's alert counters)."""
    handle = StoreHandle(store)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(handle, extra))  # type: ignore[arg-type]
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    @blueprint.get("/healthz")
    def healthz() -> tuple[Response, int]:
        status, body = health(handle, max_age_s, collecting, now)
        return jsonify(body), status

    return blueprint


def service_metrics(state: Any, alert_stats: Any | None = None) -> list[Metric]:
    """Figures of the process that collects (`run`): its loop (a `service.ServiceState`) and its
    alerts (an `alerts.AlertStats`, when rules are configured). Counters since the process started."""
    collecting = _gauge("collecting", "1 while this process's collection loop runs.")
    collecting.add_metric([], 1 if state.running else 0)
    found: list[Metric] = [collecting]
    for name, value, doc in (
        ("service_cycles", state.cycles, "Cycles this process ran (skipped ones included)."),
        ("service_failed_cycles", state.failed_cycles, "Cycles skipped: the database could not be written."),
        ("service_skipped_slots", state.skipped_slots, "Slots missed because a cycle outlasted them."),
    ):
        counter = CounterMetricFamily(f"{PREFIX}_{name}", doc)
        counter.add_metric([], value)
        found.append(counter)
    if alert_stats is not None:
        for name, value, doc in (
            ("alerts_fired", alert_stats.fired, "Conditions that started to stand (alerted once each)."),
            ("alerts_resolved", alert_stats.resolved, "Alerted conditions that cleared."),
            ("webhook_posts", alert_stats.webhook_posts, "POSTs made to the alert webhook."),
            ("webhook_failures", alert_stats.webhook_failures, "Alert webhook POSTs that failed."),
            ("webhook_deferred", alert_stats.webhook_deferred, "POSTs put off after a failed one."),
        ):
            counter = CounterMetricFamily(f"{PREFIX}_{name}", doc)
            counter.add_metric([], value)
            found.append(counter)
    return found
