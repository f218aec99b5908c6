"""Benchmark of the web pages and API routes on a store with 30 days of history (SQLite).

Run from the repository root:  .venv/bin/python bench/bench_web.py [--write] [--days 30] [--requests 40]
(a few minutes; most of it filling the store). With --write the figures replace the "web" section of
BENCHMARKS.md.

One cycle of every venue is collected through the simulator (latency 0). The history before it is
made from its rows: a cycle every 5 minutes for the last 7 days (the full-resolution part) and one an
hour for the days before (what `Store.downsample` leaves), each contract's rate scaled by a slow
wave (× 0.5 … 1.5, so the chart moves and every spread keeps its sign: persistence reads the whole
window), with every venue's run copied into each cycle; plus a settled-funding event per contract per
interval over the whole span. Each route is asked `--requests` times through Flask's test client (in
process: routing, store reads, pairing, rendering, JSON, no network); p50 and p95 are reported warm
(the app keeps what it derived from the latest rows until the data changes) and, for the main pages,
after a cycle (one committed before each request, so the app derives its pages again) and after a
cycle once the warming thread of `serve` and `run` has looked (`web/warm.py`).
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sections import write_section
from sqlalchemy import func, insert, select

from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator
from funding_finder.store import (
    Store,
    VenueRun,
    _ms,
    _row_values,
    cycles,
    funding_events,
    funding_rates,
    venue_runs,
)
from funding_finder.web import create_app
from funding_finder.web.warm import Warmer

FULL_DAYS = 7
FULL_GAP = timedelta(minutes=5)
THIN_GAP = timedelta(hours=1)
GOAL_MS = 100.0


def history_times(now: datetime, days: float) -> list[datetime]:
    """Cycle start times before `now`, oldest first: hourly beyond FULL_DAYS, every 5 min within."""
    start = now - timedelta(days=days)
    boundary = now - timedelta(days=FULL_DAYS)
    times, moment = [], start
    while moment < boundary:
        times.append(moment)
        moment += THIN_GAP
    moment = boundary
    while moment < now - FULL_GAP / 2:
        times.append(moment)
        moment += FULL_GAP
    return times


def wave(index: int, i: int) -> float:
    """× 0.5 … 1.5 over about a day, a different phase per contract."""
    return 1 + 0.5 * math.sin(i / 40 + index)


def fill(store: Store, days: float) -> dict[str, int]:
    with Simulator(latency_ms=0) as sim:
        config = CollectorConfig(base_urls={venue_id: sim.venue_url(venue_id) for venue_id in VENUES})
        Collector(store, list(VENUES), config).run_cycle()
    rows = store.latest_rates()
    with store.engine.connect() as conn:
        runs = [dict(r) for r in conn.execute(select(venue_runs)).mappings()]
    now = min(row.observed_at for row in rows)
    times = history_times(now, days)
    stored = 0
    with store.engine.begin() as conn:
        for i, moment in enumerate(times):
            cycle_id = conn.execute(
                insert(cycles).values(
                    started_at_ms=_ms(moment), finished_at_ms=_ms(moment), status="complete"
                )
            ).inserted_primary_key[0]
            conn.execute(insert(venue_runs), [{**run, "cycle_id": cycle_id} for run in runs])
            copies = [
                replace(row, observed_at=moment, funding_rate=row.funding_rate * wave(n, i))
                for n, row in enumerate(rows)
            ]
            conn.execute(insert(funding_rates), [_row_values(cycle_id, row) for row in copies])
            stored += len(copies)
        events = []
        for row in rows:
            if not row.interval_hours:
                continue
            step = timedelta(hours=row.interval_hours)
            moment = now - timedelta(days=days)
            while moment < now:
                events.append(
                    {
                        "exchange": row.exchange,
                        "native_symbol": row.native_symbol,
                        "funding_time_ms": _ms(moment),
                        "funding_rate": row.funding_rate,
                        "interval_hours": row.interval_hours,
                        "mark_price": row.mark_price,
                    }
                )
                moment += step
        for start in range(0, len(events), 20_000):
            conn.execute(insert(funding_events), events[start : start + 20_000])
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(funding_rates)).scalar()
    return {"contracts": len(rows), "cycles": len(times) + 1, "rows": total, "events": len(events)}


def next_cycle(store: Store) -> None:
    """Commit one more cycle: every contract's latest row again, 5 minutes later, its rate × 1.01."""
    rows = store.latest_rates()
    moment = max(row.observed_at for row in rows) + FULL_GAP
    by_venue: dict[str, list] = {}
    for row in rows:
        by_venue.setdefault(row.exchange, []).append(
            replace(row, observed_at=moment, funding_rate=row.funding_rate * 1.01)
        )
    cycle_id = store.start_cycle(moment)
    for exchange, venue_rows in by_venue.items():
        store.write_venue(cycle_id, VenueRun(exchange, "ok", requests=1, rows=len(venue_rows)), venue_rows)
    store.finish_cycle(cycle_id, moment, "complete")


def routes(since: str) -> list[tuple[str, str, bool]]:
    """(label, URL, main page: measured cold too)."""
    return [
        ("page: opportunities", "/", True),
        ("page: opportunities, stale allowed", "/?allow_flags=stale", True),
        ("page: all rates (200 rows)", "/rates", True),
        ("page: all rates by venue", "/rates?sort=exchange&order=asc", True),
        ("page: asset BTC, 7 d chart", "/asset/BTC", True),
        ("page: asset BTC, 30 d chart", "/asset/BTC?days=30", True),
        ("page: venue health", "/venues", True),
        ("api: rates, 1000 rows", "/api/rates?limit=1000", False),
        ("api: opportunities", "/api/opportunities", False),
        ("api: snapshots of BTC, 1000 rows", "/api/history/snapshots?asset=BTC&limit=1000", False),
        (
            "api: snapshots of one contract, 30 d",
            f"/api/history/snapshots?exchange=binance&native_symbol=BTCUSDT&since={since}&limit=1000",
            False,
        ),
        ("api: events of BTC, 30 d", f"/api/history/events?asset=BTC&since={since}&limit=1000", False),
        ("api: cycles", "/api/cycles", False),
        ("api: venues/health", "/api/venues/health", False),
    ]


def measure(client, url: str, count: int, before=None) -> list[float]:
    """Milliseconds of `count` requests, `before()` run (untimed) ahead of each."""
    times = []
    for _ in range(count):
        if before is not None:
            before()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def bench(days: float, count: int, db: str | None) -> tuple[dict[str, int], list[dict[str, object]]]:
    with tempfile.TemporaryDirectory() as folder:
        path = db or str(Path(folder) / "bench.db")
        reuse = db is not None and Path(db).exists()
        store = Store(path)
        started = time.perf_counter()
        sizes = measure_store(store) if reuse else fill(store, days)
        sizes["fill_s"] = round(time.perf_counter() - started)
        app = create_app(store)
        client = app.test_client()
        warmer = Warmer(app)

        def cycle_then_warm() -> None:
            next_cycle(store)
            warmer.step()  # what the warming thread of `serve` and `run` does, two looks apart
            warmer.step()

        since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        results = []
        for label, url, main_page in routes(since):
            measure(client, url, 2)  # warm up: imports, template compilation, the cache
            warm = measure(client, url, count)
            after_cycle = warmed = None
            if main_page:
                after_cycle = measure(client, url, max(10, count // 2), before=lambda: next_cycle(store))
                warmed = measure(client, url, max(10, count // 2), before=cycle_then_warm)
            results.append(
                {
                    "label": label,
                    "url": url,
                    "p50": statistics.median(warm),
                    "p95": p95(warm),
                    "cycle_p50": statistics.median(after_cycle) if after_cycle else None,
                    "cycle_p95": p95(after_cycle) if after_cycle else None,
                    "warmed_p50": statistics.median(warmed) if warmed else None,
                    "warmed_p95": p95(warmed) if warmed else None,
                }
            )
        first_ms = first_request(store)
        store.close()
    sizes["first_ms"] = first_ms
    return sizes, results


def measure_store(store: Store) -> dict[str, int]:
    """The sizes of an already filled store (`--db` given twice)."""
    with store.engine.connect() as conn:
        count = lambda table: conn.execute(select(func.count()).select_from(table)).scalar()  # noqa: E731
        return {
            "contracts": len(store.latest_rates()),
            "cycles": count(cycles),
            "rows": count(funding_rates),
            "events": count(funding_events),
        }


def first_request(store: Store) -> float:
    """Milliseconds of the opportunities page of a freshly started app (nothing walked yet)."""
    client = create_app(store).test_client()
    started = time.perf_counter()
    assert client.get("/").status_code == 200
    return (time.perf_counter() - started) * 1000


def section(sizes: dict[str, int], results: list[dict[str, object]], count: int, days: float) -> str:
    def ms(value: object) -> str:
        return "—" if value is None else f"{value:.1f}"

    pages = [r for r in results if str(r["label"]).startswith("page")]
    worst = max(pages, key=lambda r: r["p95"])  # type: ignore[arg-type,return-value]
    worst_cycle = max(pages, key=lambda r: r["cycle_p95"])  # type: ignore[arg-type,return-value]
    worst_warmed = max(pages, key=lambda r: r["warmed_p95"])  # type: ignore[arg-type,return-value]
    lines = [
        "<!-- web:start -->",
        "## Web dashboard and API (issue 5)",
        "",
        f"SQLite, {sizes['contracts']:,} contracts, {sizes['cycles']:,} cycles over {days:g} days "
        f"(every 5 min for {FULL_DAYS} days, hourly before, as `downsample` leaves it): "
        f"{sizes['rows']:,} rows, {sizes['events']:,} settled events. "
        "Command: `.venv/bin/python bench/bench_web.py --write` "
        f"(filling the store took {sizes['fill_s']} s). Flask test client in process, {count} requests "
        "a route. *Warm*: the page asked again with no new data (the app keeps what it derived per data "
        "version). *After a cycle*: a new cycle of every contract committed before each request "
        "(untimed), so the latest rows, the pairing, the chart's open buckets and the persistence walk's "
        "new rows are read again: what a visitor meets in the first seconds after a commit. *After a "
        "cycle, warmed*: the same, then the warming thread's two looks (`web/warm.py`, which `serve` and "
        "`run` start: it asks for `/`, `/rates` and `/venues` once the data version has settled, two "
        "seconds apart): what every later visitor meets. Milliseconds.",
        "",
        "| route | p50 warm | p95 warm | p50 after a cycle | p95 after a cycle "
        "| p50 after a cycle, warmed | p95 after a cycle, warmed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} (`{str(r['url']).split('&since')[0]}`) | {ms(r['p50'])} | {ms(r['p95'])} "
            f"| {ms(r['cycle_p50'])} | {ms(r['cycle_p95'])} | {ms(r['warmed_p50'])} | {ms(r['warmed_p95'])} |"
        )
    lines += [
        "",
        f"Goal: the main pages answer in ≤ {GOAL_MS:.0f} ms p95. Slowest page p95: warm {worst['label']}, "
        f"{ms(worst['p95'])} ms; after a cycle {worst_cycle['label']}, {ms(worst_cycle['cycle_p95'])} ms; "
        f"after a cycle, warmed {worst_warmed['label']}, {ms(worst_warmed['warmed_p95'])} ms.",
        "The first opportunities page of a freshly started app walks the whole "
        f"{FULL_DAYS}-day window of the shown pairs once: {sizes['first_ms']:,.0f} ms (a page-bound read: "
        "each contract's rows lie in a "
        "different database page per cycle); later cycles only read the rows after each pair's anchor "
        "(`web/persistence.py`).",
        "<!-- web:end -->",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Replace the web section of BENCHMARKS.md.")
    parser.add_argument("--days", type=float, default=30, help="Days of stored history (default 30).")
    parser.add_argument("--requests", type=int, default=40, help="Requests a route (default 40).")
    parser.add_argument("--db", help="Keep the filled store here and reuse it on the next run.")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # a replay: the venues' "data not moving" warnings are expected
    sizes, results = bench(args.days, args.requests, args.db)
    text = section(sizes, results, args.requests, args.days)
    print(text)
    if args.write:
        write_section("web", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
