"""What the pages and the API show, read from the store and computed once per data version.

The store changes only when a venue's rows are committed (or old history is thinned), and
`Store.data_version` says so in two primary-key lookups. So the latest rows and every opportunity
scan are kept per version: a dashboard reloaded between two cycles costs no table read. Everything
here is read only and safe to call from waitress's threads.

Units as in the rest of the project: rates are fractions (per interval, per hour or per year as
named), times aware UTC datetimes, `*_ms` epoch milliseconds.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from funding_finder.arbitrage import (
    Filters,
    Opportunity,
    Scan,
    find_opportunities,
    rate_per_hour,
)
from funding_finder.model import FLAG_STALE, HOURS_PER_YEAR, FundingRate, SettledFunding
from funding_finder.store import HOUR_MS, CycleRecord, Store, VenueRun
from funding_finder.web.persistence import ANCHOR_LAG, PersistenceCache

T = TypeVar("T")

CACHE_ENTRIES = 64
"""Derived results kept per data version (scans for different filters, pages of them)."""

KEPT_CYCLES = 2000
"""Finished cycles kept in memory (the health page shows up to 1000)."""

RATE_SORTS: dict[str, Callable[[FundingRate], Any]] = {
    "exchange": lambda r: (r.exchange, r.native_symbol),
    "symbol": lambda r: (r.symbol, r.exchange),
    "asset": lambda r: (r.asset or "", r.exchange),
    "funding_rate": lambda r: r.funding_rate,
    "rate_per_hour": rate_per_hour,
    "apr": lambda r: r.apr,
    "interval_hours": lambda r: r.interval_hours,
    "next_funding_time": lambda r: r.next_funding_time,
    "mark_price": lambda r: r.mark_price,
    "open_interest_usd": lambda r: r.open_interest_usd,
    "volume_24h_usd": lambda r: r.volume_24h_usd,
}
"""Sort keys of the rates table and `/api/rates`; unknown values always sort last."""


@dataclass(frozen=True)
class RateQuery:
    """Filters of the rates table: venues, one asset, a substring of the symbol, the contract type,
    clean rows only (no flag), each leg's open interest in USD at least."""

    exchanges: frozenset[str] | None = None
    asset: str | None = None
    search: str | None = None
    contract_type: str | None = None
    clean_only: bool = False
    min_oi_usd: float | None = None
    sort: str = "apr"
    descending: bool = True

    def keeps(self, row: FundingRate) -> bool:
        if self.exchanges is not None and row.exchange not in self.exchanges:
            return False
        if self.asset is not None and (row.asset or "").upper() != self.asset.upper():
            return False
        if self.search is not None:
            needle = self.search.lower()
            if needle not in row.symbol.lower() and needle not in row.native_symbol.lower():
                return False
        if self.contract_type is not None and row.contract_type != self.contract_type:
            return False
        if self.clean_only and row.flags:
            return False
        return self.min_oi_usd is None or (row.open_interest_usd or 0) >= self.min_oi_usd


def sorted_rows(rows: Iterable[FundingRate], key: str, descending: bool) -> list[FundingRate]:
    """Sorted by `RATE_SORTS[key]`, unknown values last whichever the direction."""
    value = RATE_SORTS[key]
    rows = list(rows)
    known = [row for row in rows if value(row) is not None]
    unknown = [row for row in rows if value(row) is None]
    return sorted(known, key=value, reverse=descending) + sorted(unknown, key=RATE_SORTS["exchange"])


@dataclass(frozen=True)
class OpportunityPage:
    """One page of a scan: the pairs shown carry their persistence (read for them alone)."""

    total: int
    excluded: dict[str, int]
    items: list[Opportunity]


@dataclass(frozen=True)
class VenueHealth:
    """One venue over the last cycles read: its newest run, counts summed over the runs, its rows now."""

    exchange: str
    last: VenueRun | None
    last_cycle_id: int | None
    last_started_at: datetime | None
    runs: int
    statuses: list[tuple[int, str]]
    """(cycle id, status) of its runs, oldest first: the strip on the health page."""
    failures: dict[str, int]
    rate_limited: int
    pauses: int
    gate_wait_s: float
    rows_now: int
    stale_now: int
    newest_observation: datetime | None

    def staleness_s(self, now: datetime) -> float | None:
        """Seconds since the venue's newest stored observation."""
        if self.newest_observation is None:
            return None
        return (now - self.newest_observation).total_seconds()

    def busiest_limit(self) -> tuple[str, int, int] | None:
        """(limit name, used, allowed) of the newest run's most used declared limit."""
        if self.last is None or not self.last.limits:
            return None
        name, (used, allowed) = max(self.last.limits.items(), key=lambda kv: kv[1][0] / max(kv[1][1], 1))
        return name, used, allowed


class Reader:
    """The store seen by the web: cached per data version, read only."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self.persistence = PersistenceCache(store)
        self._series_state: dict[
            Hashable, tuple[int, int, dict[tuple[str, str], list[tuple[int, float]]]]
        ] = {}
        """Per (contracts, bucket): (first bucket, first bucket not closed, the closed buckets' points)."""
        self._finished_cycles: dict[int, CycleRecord] = {}
        self._lock = threading.Lock()

    def cached(
        self, key: Hashable, compute: Callable[[], T], version: Callable[[], Hashable] | None = None
    ) -> T:
        """`compute()` once per (version, key), the version being `Store.data_version` unless another
        is given; the oldest entries go first."""
        full_key = ((version or self.store.data_version)(), key)
        with self._lock:
            if full_key in self._cache:
                self._cache.move_to_end(full_key)
                return self._cache[full_key]
        value = compute()  # outside the lock: two threads may compute the same thing once each
        with self._lock:
            self._cache[full_key] = value
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value

    def latest(self) -> list[FundingRate]:
        """The newest row of every contract, by exchange then native symbol."""
        return self.cached("latest", self.store.latest_rates)

    def rates(self, query: RateQuery) -> list[FundingRate]:
        return sorted_rows((row for row in self.latest() if query.keeps(row)), query.sort, query.descending)

    def exchanges(self) -> list[str]:
        """The venues with stored rows."""
        return sorted({row.exchange for row in self.latest()})

    def scan(self, filters: Filters, hold_hours: float, fees: dict[str, float]) -> Scan:
        key = ("scan", filters, hold_hours, tuple(sorted(fees.items())))
        return self.cached(
            key, lambda: find_opportunities(self.latest(), hold_hours=hold_hours, filters=filters, fees=fees)
        )

    def opportunities(
        self,
        filters: Filters,
        hold_hours: float,
        fees: dict[str, float],
        history_days: float,
        limit: int,
        offset: int,
    ) -> OpportunityPage:
        """A page of the scan, best net APR first, each pair with its persistence over `history_days`."""
        scan = self.scan(filters, hold_hours, fees)

        def page() -> list[Opportunity]:
            shown = scan.opportunities[offset : offset + limit]
            return self.persistence.apply(shown, self.clock() - timedelta(days=history_days))

        key = ("page", filters, hold_hours, tuple(sorted(fees.items())), history_days, limit, offset)
        return OpportunityPage(len(scan.opportunities), scan.excluded, self.cached(key, page))

    def chart(self, contracts: Sequence[tuple[str, str]], since: datetime, bucket_ms: int) -> dict[str, Any]:
        """Chart columns (`chart_data`) of the contracts' rate per hour from `since` (floored to a bucket,
        so that the chart is computed once per data version), in `bucket_ms` buckets."""
        since_ms = int(since.timestamp() * 1000) // bucket_ms * bucket_ms
        key = ("chart", tuple(contracts), since_ms, bucket_ms)
        return self.cached(key, lambda: chart_data(self._series(tuple(contracts), since_ms, bucket_ms)))

    def _series(
        self, contracts: tuple[tuple[str, str], ...], since_ms: int, bucket_ms: int
    ) -> dict[tuple[str, str], list[tuple[int, float]]]:
        """`Store.rate_series` from `since_ms`, reading again only the buckets that had not closed at the
        previous call (a bucket is closed once it ends `ANCHOR_LAG` before the newest observation: every
        row in it is committed). A week of 30-minute buckets is one page-bound read when first drawn and
        then a few rows per contract a cycle."""
        state_key = (contracts, bucket_ms)
        with self._lock:
            known = self._series_state.get(state_key)
        if known is not None and known[0] <= since_ms < known[1]:
            read_from, kept = known[1], {k: [p for p in v if p[0] >= since_ms] for k, v in known[2].items()}
        else:
            read_from, kept = since_ms, {}
        fresh = self.store.rate_series(contracts, datetime.fromtimestamp(read_from / 1000, UTC), bucket_ms)
        series = {k: kept.get(k, []) + fresh.get(k, []) for k in sorted({*kept, *fresh})}
        wanted = set(contracts)
        newest = max(
            (r.observed_at for r in self.latest() if (r.exchange, r.native_symbol) in wanted), default=None
        )
        if newest is not None:
            closed_ms = int((newest - ANCHOR_LAG).timestamp() * 1000) // bucket_ms * bucket_ms
            closed = {k: [p for p in v if p[0] < closed_ms] for k, v in series.items()}
            with self._lock:
                self._series_state[state_key] = (since_ms, max(closed_ms, since_ms), closed)
                while len(self._series_state) > CACHE_ENTRIES:
                    self._series_state.pop(next(iter(self._series_state)))
        return series

    def events_chart(
        self, contracts: Sequence[tuple[str, str]], since: datetime, limit: int
    ) -> tuple[int, dict[str, Any]]:
        """(points, chart columns) of the contracts' settled funding from `since` (floored to the hour),
        at most `limit` events. Events come from `backfill`, not from cycles, so this is kept per
        `Store.events_version` and hour: a new cycle does not read them again."""
        since_ms = int(since.timestamp() * 1000) // HOUR_MS * HOUR_MS

        def compute() -> tuple[int, dict[str, Any]]:
            series = self.store.event_series(contracts, datetime.fromtimestamp(since_ms / 1000, UTC), limit)
            return sum(map(len, series.values())), chart_data(series)

        key = ("events-chart", tuple(contracts), since_ms, limit)
        return self.cached(key, compute, version=self.store.events_version)

    def asset_rows(self, asset: str) -> list[FundingRate]:
        """The latest row of every contract of one asset (case-insensitive), by rate per hour."""
        rows = [row for row in self.latest() if (row.asset or "").upper() == asset.upper()]
        return sorted_rows(rows, "rate_per_hour", descending=True)

    def contracts_of(
        self, asset: str | None, exchange: str | None, native_symbol: str | None
    ) -> list[tuple[str, str]]:
        """The (exchange, native_symbol) keys one history request means: one contract, or an asset's."""
        if asset is not None:
            return [(row.exchange, row.native_symbol) for row in self.asset_rows(asset)]
        if exchange is not None and native_symbol is not None:
            return [(exchange, native_symbol)]
        return []

    def events(
        self,
        contracts: Sequence[tuple[str, str]],
        since: datetime,
        until: datetime,
        limit: int,
        offset: int = 0,
    ) -> list[SettledFunding]:
        """Stored settlement events of the contracts in [since, until), by contract then time."""
        return self.store.events_page(contracts, since, until, limit, offset)

    def cycles(self, limit: int, offset: int = 0) -> list[CycleRecord]:
        """The cycles of a page, newest first; the finished ones already read are not read again."""
        with self._lock:
            known = dict(self._finished_cycles)
        records = self.store.cycle_page(limit, offset, known=known)
        with self._lock:
            for record in records:
                if record.finished_at is not None:
                    self._finished_cycles[record.id] = record
            for old in sorted(self._finished_cycles)[:-KEPT_CYCLES]:
                del self._finished_cycles[old]
        return records

    def health(self, records: Sequence[CycleRecord]) -> list[VenueHealth]:
        """Per venue seen in the given cycles (`cycles()`) or in the latest rows, by venue id."""
        records = sorted(records, key=lambda record: record.id)  # oldest first
        now_rows: dict[str, list[FundingRate]] = {}
        for row in self.latest():
            now_rows.setdefault(row.exchange, []).append(row)
        runs: dict[str, list[tuple[CycleRecord, VenueRun]]] = {}
        for record in records:
            for run in record.venues:
                runs.setdefault(run.exchange, []).append((record, run))
        return [_venue_health(v, runs.get(v, []), now_rows.get(v, [])) for v in sorted({*runs, *now_rows})]


def _venue_health(
    exchange: str, runs: list[tuple[CycleRecord, VenueRun]], rows: list[FundingRate]
) -> VenueHealth:
    failures: Counter[str] = Counter()
    for _, run in runs:
        failures.update(run.failures)
    last_record, last_run = runs[-1] if runs else (None, None)
    return VenueHealth(
        exchange=exchange,
        last=last_run,
        last_cycle_id=last_record.id if last_record else None,
        last_started_at=last_record.started_at if last_record else None,
        runs=len(runs),
        statuses=[(record.id, run.status) for record, run in runs],
        failures=dict(sorted(failures.items())),
        rate_limited=sum(run.rate_limited for _, run in runs),
        pauses=sum(run.pauses for _, run in runs),
        gate_wait_s=sum(run.gate_wait_s for _, run in runs),
        rows_now=len(rows),
        stale_now=sum(FLAG_STALE in row.flags for row in rows),
        newest_observation=max((row.observed_at for row in rows), default=None),
    )


def failures_over_time(records: Sequence[CycleRecord]) -> dict[str, Any]:
    """Chart data: per failure kind, the failures of every cycle summed over venues, oldest first.
    `x` is each cycle's start in epoch seconds (uPlot's unit)."""
    ordered = sorted(records, key=lambda record: record.id)
    kinds = sorted({kind for record in ordered for run in record.venues for kind in run.failures})
    return {
        "x": [record.started_at.timestamp() for record in ordered],
        "series": {
            kind: [sum(run.failures.get(kind, 0) for run in record.venues) for record in ordered]
            for kind in kinds
        },
    }


def chart_data(series: dict[tuple[str, str], list[tuple[int, float]]]) -> dict[str, Any]:
    """uPlot's columns: `x` in epoch seconds, one APR column (percent per year, simple: rate per hour ×
    8760 × 100; presentation only) per contract with null where it has no point; labels are venue
    strings (uPlot sets them as text, never as HTML)."""
    times = sorted({t for points in series.values() for t, _ in points})
    index = {t: i for i, t in enumerate(times)}
    columns, labels = [], []
    for (exchange, native_symbol), points in sorted(series.items()):
        column: list[float | None] = [None] * len(times)
        for t, per_hour in points:
            column[index[t]] = round(per_hour * HOURS_PER_YEAR * 100, 4)
        columns.append(column)
        labels.append(f"{exchange} {native_symbol}")
    return {"x": [t / 1000 for t in times], "series": columns, "labels": labels}
