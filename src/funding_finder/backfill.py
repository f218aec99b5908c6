"""Settled-funding history: every stored contract's settlements of the last N days, under the venue's limit.

The venues' history endpoints take one contract per call, so this is the fan-out the product is built
on, one task per contract: its pages run in order, paged by the rows' own times (forward: each page
starts after the newest row of the one before; backward, for venues that answer newest first: each
page ends before the oldest row of the one before; never an assumed interval), and its events are
committed as the task ends, so an interrupted backfill resumes from what is stored. The contracts are
the latest stored rows of each venue (run `collect` first), filtered to those the venue's history
endpoint covers. Venues run side by side, each on its own rate gate (their limits are their own).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType

from sqlalchemy.exc import SQLAlchemyError

from funding_finder.collector import CollectorConfig, venue_client
from funding_finder.exchanges import get_venue
from funding_finder.exchanges.base import HistorySpec
from funding_finder.fanout import AnyEvent, fan_out, latency_summary_ms
from funding_finder.http import VenueClient
from funding_finder.model import SettledFunding, with_intervals
from funding_finder.store import Store, StoreError

log = logging.getLogger("funding_finder.backfill")


@dataclass
class VenueBackfill:
    """One venue's backfill: contracts asked for and done, calls, new events stored, failures by kind."""

    exchange: str
    contracts: int = 0
    done: int = 0
    requests: int = 0
    events: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    duration_s: float = 0.0
    gate_wait_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    store_error: str | None = None
    """Why the events could not be written (the database refused them): the venue stopped there."""

    def to_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "failures": dict(self.failures)}


Progress = Callable[[str, int, int, int, float], None]
"""`progress(exchange, contracts_done_delta, events_delta, contracts_total, gate_wait_s)`, called from the
venues' threads one call at a time (under a lock); `gate_wait_s` is the venue's rate-gate wait so far,
summed over its calls."""


def venues_with_history(venue_ids: Sequence[str]) -> list[ModuleType]:
    return [venue for venue in map(get_venue, venue_ids) if getattr(venue.SPEC, "history", None)]


def backfill(
    store: Store,
    venue_ids: Sequence[str],
    days: float,
    config: CollectorConfig | None = None,
    *,
    now: datetime | None = None,
    symbols: set[str] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> list[VenueBackfill]:
    """Fetch and store the settlements of the last `days` days of every stored contract of the venues
    that have a history endpoint; the venues run in parallel, each at its own limits' pace, and their
    results come back in the order asked. `symbols` limits the run to those native symbols; `now` (UTC)
    is the end of the range."""
    config = config or CollectorConfig()
    end = now or datetime.now(UTC)
    venues = venues_with_history(venue_ids)
    if not venues or (stop is not None and stop.is_set()):
        return []
    locked = _serialized(progress)
    with ThreadPoolExecutor(max_workers=len(venues), thread_name_prefix="backfill") as pool:
        runs = [
            pool.submit(
                _backfill_venue, store, venue, end - timedelta(days=days), end, config, symbols, locked, stop
            )
            for venue in venues
        ]
        return [run.result() for run in runs]


def _serialized(progress: Progress | None) -> Progress | None:
    """`progress` called by one venue thread at a time (a rich progress bar's task table is not shared
    safely otherwise)."""
    if progress is None:
        return None
    lock = threading.Lock()

    def call(exchange: str, done: int, events: int, total: int, wait_s: float) -> None:
        with lock:
            progress(exchange, done, events, total, wait_s)

    return call


def _backfill_venue(
    store: Store,
    venue: ModuleType,
    start: datetime,
    end: datetime,
    config: CollectorConfig,
    symbols: set[str] | None,
    progress: Progress | None,
    stop: threading.Event | None,
) -> VenueBackfill:
    spec = venue.SPEC
    history: HistorySpec = spec.history
    result = VenueBackfill(spec.id)
    contracts = sorted(
        row.native_symbol
        for row in store.latest_rates([spec.id])
        if history.covers(row) and (symbols is None or row.native_symbol in symbols)
    )
    if not contracts:
        result.note = (
            "no stored contract matches --symbols (native symbols, case as the venue lists them)"
            if symbols is not None and store.latest_rates([spec.id])
            else "no stored contracts: run `funding-finder collect` first"
        )
        return result
    result.contracts = len(contracts)
    spans = store.event_spans(spec.id)
    # the history calls' own pool and pace: the cycle's Session is sized for a cycle's few calls
    client = venue_client(
        venue, config, pool_size=history.workers or spec.workers, paced_endpoints=[history.endpoint.name]
    )
    started = time.monotonic()
    if progress is not None:
        progress(spec.id, 0, 0, len(contracts), 0.0)

    def fetch(symbol: str) -> list[SettledFunding]:
        first_ms, last_ms = _ms(start), _ms(end)
        stored = spans.get(symbol)
        if stored is None:
            return with_intervals(_pages(client, history, symbol, first_ms, last_ms))
        # what is stored is not fetched again: only the range before it and the range after it (a venue
        # whose one call answers the whole history is called once, its stored span left out)
        oldest, newest = stored
        if history.paging == "none":
            every = _pages(client, history, symbol, first_ms, last_ms)
            before = [event for event in every if event.funding_time < oldest]
            after = [event for event in every if event.funding_time > newest]
        else:
            early = first_ms < _ms(oldest)
            before = _pages(client, history, symbol, first_ms, _ms(oldest) - 1) if early else []
            after = _pages(client, history, symbol, max(first_ms, _ms(newest) + 1), last_ms)
        return with_intervals(before) + with_intervals(after, newest)

    halt = threading.Event()  # set when the database refuses a write: fetching more would be wasted

    def write(symbol: str, events: list[SettledFunding]) -> None:
        try:
            new = store.write_events(events)
        except (SQLAlchemyError, StoreError) as exc:
            result.failures["store"] += 1
            if result.store_error is None:
                result.store_error = f"cannot write to the database: {getattr(exc, 'orig', None) or exc}"
                log.error("%s %s: %s; stopping", spec.id, history.endpoint.name, result.store_error)
            halt.set()
            return
        result.events += new
        result.done += 1
        if progress is not None:
            progress(spec.id, 1, new, len(contracts), client.gate.stats.wait_s)

    fan = fan_out(
        contracts,
        fetch,
        workers=client.concurrency.allowed,
        thread_name_prefix=f"{spec.id}-history",
        on_result=write,
        stop=AnyEvent(stop, halt),
    )
    for symbol, exc in fan.errors:
        log.warning("%s %s: history of %s not stored: %s", spec.id, history.endpoint.name, symbol, exc)
    if progress is not None and fan.errors:
        progress(spec.id, len(fan.errors), 0, len(contracts), client.gate.stats.wait_s)
    result.failures.update(fan.failures)
    result.requests = client.requests
    result.duration_s = time.monotonic() - started
    result.gate_wait_s = client.gate.stats.wait_s
    result.latency_ms = latency_summary_ms(client.latencies_s)
    return result


def _pages(
    client: VenueClient, history: HistorySpec, symbol: str, start_ms: int, end_ms: int
) -> list[SettledFunding]:
    """Every event of `symbol` from `start_ms` to `end_ms` (epoch ms, inclusive), page after page in the
    venue's direction (`HistorySpec.paging`), each page's bound moved past the rows it brought."""
    events: list[SettledFunding] = []
    low, high = start_ms, end_ms
    while low <= high:
        page = history.parse(client.fetch(history.request(symbol, low, high)), symbol)
        times = [_ms(event.funding_time) for event in page.items]
        events += [event for event, at in zip(page.items, times, strict=True) if start_ms <= at <= end_ms]
        full = len(page.items) + page.bad_rows >= history.page_rows
        if history.paging == "none" or not full or not times:
            break
        if history.paging == "backward":
            high = min(times) - 1
        else:
            low = max(times) + 1
    return events


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
