"""Store volume: database size per day at ~10k contracts, what downsampling keeps, and read latency.

Run from the repository root:  .venv/bin/python bench/bench_store.py [--write] [--hours H]   (about 3 minutes)
With --write the figures replace the "store" section of BENCHMARKS.md.

One cycle of every venue, scaled like bench_cpu.py (the `realistic` preset × 1.3, about 10k contracts), is
collected through the simulator (latency 0); its rows are then copied into one cycle every 5 minutes for
`--hours` (default 24: a day of `collect --every 5`), each through `Store.write_venue`, the collector's own
write (rows, latest table, stats in one transaction). Measured on the SQLite file: the bytes a day of
snapshots takes (pages in use, so the figure is what a day adds whatever the file's free pages), the same
day after `downsample` keeps one row per contract and hour, the time a cycle's write takes, and the reads
the product makes on it (latest rows, one contract's history, the cycles list). Query latency on a
30-day store is bench_web.py's (its 30-day store, every route).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sections import write_section
from sqlalchemy import text

from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator
from funding_finder.simulator.scale import REALISTIC
from funding_finder.store import Store, VenueRun

SCALE = {venue: round(count * 1.3) for venue, count in REALISTIC.items()}
CYCLE_GAP = timedelta(minutes=5)
READS = 20


def used_bytes(store: Store) -> int:
    """Bytes of the SQLite file in use (pages less free pages), after a checkpoint of the WAL."""
    with store.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        page = conn.execute(text("PRAGMA page_size")).scalar()
        pages = conn.execute(text("PRAGMA page_count")).scalar()
        free = conn.execute(text("PRAGMA freelist_count")).scalar()
    return (pages - free) * page


def count_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM funding_rates")).scalar()


def fill(store: Store, cycles: int) -> list[float]:
    """One simulated cycle, then `cycles − 1` copies 5 minutes apart; returns each copy's write time (s)."""
    with Simulator(latency_ms=0, scale=SCALE) as sim:
        config = CollectorConfig(base_urls={venue: sim.venue_url(venue) for venue in VENUES})
        Collector(store, list(VENUES), config).run_cycle()
    rows = store.latest_rates()
    by_venue: dict[str, list] = {}
    for row in rows:
        by_venue.setdefault(row.exchange, []).append(row)
    started = min(row.observed_at for row in rows)
    write_s = []
    for i in range(1, cycles):
        shift = CYCLE_GAP * i
        cycle_id = store.start_cycle(started + shift)
        began = time.perf_counter()
        for venue, venue_rows in by_venue.items():
            copies = [replace(row, observed_at=row.observed_at + shift) for row in venue_rows]
            store.write_venue(cycle_id, VenueRun(venue, "ok", requests=1), copies)
        write_s.append(time.perf_counter() - began)
        store.finish_cycle(cycle_id, started + shift, "complete")
    return write_s


def timed_ms(read) -> float:
    times = []
    for _ in range(READS):
        began = time.perf_counter()
        read()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def bench(hours: float) -> dict[str, float]:
    cycles = round(hours * 60 / 5)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "bench.db"))
        empty = used_bytes(store)
        filled_at = time.perf_counter()
        write_s = fill(store, cycles)
        fill_s = time.perf_counter() - filled_at
        rows = count_rows(store)
        full = used_bytes(store) - empty
        latest = store.latest_rates()
        newest = max(row.observed_at for row in latest)
        one = next(row for row in latest if row.exchange == "binance" and row.native_symbol == "BTCUSDT")
        reads = {
            "latest rows of every contract (`rates`, the web's base)": timed_ms(store.latest_rates),
            "one contract's snapshots, the whole day": timed_ms(
                lambda: store.rate_history([(one.exchange, one.native_symbol)])
            ),
            "the last 20 cycles with their venue runs (`cycles`)": timed_ms(lambda: store.cycles(20)),
        }
        thinned_at = time.perf_counter()
        deleted = store.downsample(newest + timedelta(hours=1))
        thin_s = time.perf_counter() - thinned_at
        kept = count_rows(store)
        thinned = used_bytes(store) - empty
        store.close()
    per_day = 24 / hours
    return {
        "contracts": len(latest),
        "cycles": cycles,
        "rows": rows,
        "full_mib_day": full * per_day / 2**20,
        "bytes_per_row": full / rows,
        "kept": kept,
        "deleted": deleted,
        "thinned_mib_day": thinned * per_day / 2**20,
        "write_ms": statistics.median(write_s) * 1000,
        "write_p95_ms": sorted(write_s)[round(0.95 * (len(write_s) - 1))] * 1000,
        "fill_s": fill_s,
        "thin_s": thin_s,
        "reads": reads,
    }


def section(f: dict) -> str:
    lines = [
        "<!-- store:start -->",
        "## Store volume and retention (issue 6)",
        "",
        f"SQLite, {f['contracts']:,} contracts (every venue scaled, `realistic` × 1.3), one cycle every "
        f"5 min for {f['cycles'] * 5 / 60:g} h ({f['cycles']} cycles, {f['rows']:,} rows), each written "
        "by `Store.write_venue` as the collector does. "
        "Command: `.venv/bin/python bench/bench_store.py --write`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| a day of 5-minute snapshots, full resolution | {f['full_mib_day']:,.0f} MiB "
        f"({f['bytes_per_row']:.0f} bytes a row, indexes included) |",
        "| the same day after `downsample` (one row per contract and hour) | "
        f"{f['thinned_mib_day']:,.0f} MiB "
        f"({f['kept']:,} rows kept, {f['deleted']:,} deleted in {f['thin_s']:.1f} s) |",
        f"| writing one cycle of {f['contracts']:,} rows (rows, latest table, stats): p50 / p95 | "
        f"{f['write_ms']:.0f} / {f['write_p95_ms']:.0f} ms |",
        *(f"| read: {name}, median of {READS} | {ms:.1f} ms |" for name, ms in f["reads"].items()),
        "",
        "With the default `--keep-full-days 7` a store holds a week at full resolution and an hourly row per",
        "contract before it: about 7 × the first figure plus, per further day, the second. Settled funding",
        "(`backfill`) is kept whole and is small beside it (one row per contract and settlement). The",
        "latest rows come from their own table, so their read does not grow with the history; a",
        "contract's history is read through the (exchange, native_symbol, observed_at) index. Read latency",
        "on a 30-day store: the web section (every page and API route).",
        "<!-- store:end -->",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the store section of BENCHMARKS.md")
    parser.add_argument("--hours", type=float, default=24.0, help="hours of 5-minute cycles to store")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    text_ = section(bench(args.hours))
    print(text_)
    if args.write:
        write_section("store", text_)
    return 0


if __name__ == "__main__":
    sys.exit(main())
