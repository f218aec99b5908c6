"""Benchmark of `top` on a store with a week of history (SQLite).

Run from the repository root:  .venv/bin/python bench/bench_top.py [--write] [--cycles N]   (about 2 minutes)
With --write the figures replace the "top" section of BENCHMARKS.md.

One cycle of every venue is collected through the simulator (latency 0); its rows are then copied into
N − 1 further cycles 5 minutes apart (the default 2016 cycles are a week of `collect --every 5`), so
every contract has N rows and every spread stays positive over the whole history: the persistence walk
reads all of it. Timed: the latest-row read that `rates` also does, the pairing, the history read of the
shown pairs' contracts and the persistence walk; the ratio is `top`'s whole read-and-compute time over
the latest-row read alone.
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
from functools import partial
from pathlib import Path

from sections import write_section
from sqlalchemy import insert

from funding_finder.arbitrage import Filters, find_opportunities, with_persistence
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator
from funding_finder.store import Store, _ms, _row_values, cycles, funding_rates

CYCLE_GAP = timedelta(minutes=5)
SHOWN = 20
RUNS = 5


def fill(store: Store, count: int) -> int:
    """Collect once through the simulator, then copy its rows into `count − 1` later cycles."""
    with Simulator(latency_ms=0) as sim:
        config = CollectorConfig(base_urls={venue_id: sim.venue_url(venue_id) for venue_id in VENUES})
        first = Collector(store, list(VENUES), config).run_cycle()
    rows = store.latest_rates()
    started = min(row.observed_at for row in rows)
    with store.engine.begin() as conn:
        for i in range(1, count):
            shift = CYCLE_GAP * i
            moment = started + shift
            cycle_id = conn.execute(
                insert(cycles).values(
                    started_at_ms=_ms(moment), finished_at_ms=_ms(moment), status="complete"
                )
            ).inserted_primary_key[0]
            copies = [replace(row, observed_at=row.observed_at + shift) for row in rows]
            conn.execute(insert(funding_rates), [_row_values(cycle_id, row) for row in copies])
        store._keep_newest(conn, [_row_values(cycle_id, row) for row in copies])  # the latest table too
    return first.rows * count


def persist_all(shown, history):
    return [with_persistence(opportunity, history) for opportunity in shown]


def timed(run):
    started = time.perf_counter()
    value = run()
    return value, time.perf_counter() - started


def bench_top(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "bench.db"))
        total_rows, fill_s = timed(lambda: fill(store, count))
        figures: dict[str, list[float]] = {"latest": [], "scan": [], "history": [], "walk": []}
        stale_too = Filters(allow_flags=frozenset({"stale"}))
        for _ in range(RUNS):
            latest, latest_s = timed(store.latest_rates)
            scan, scan_s = timed(partial(find_opportunities, latest, hold_hours=168, filters=stale_too))
            shown = scan.opportunities[:SHOWN]
            keys = {key for o in shown for key in (o.long.key, o.short.key)}
            history, history_s = timed(partial(store.rate_history, keys))
            walked, walk_s = timed(partial(persist_all, shown, history))
            for name, seconds in zip(figures, (latest_s, scan_s, history_s, walk_s), strict=True):
                figures[name].append(seconds)
        store.close()
    median = {name: statistics.median(values) for name, values in figures.items()}
    whole = sum(median.values())
    return {
        "cycles": count,
        "rows": total_rows,
        "fill_s": fill_s,
        "pairs": len(scan.opportunities),
        "contracts": len(keys),
        "history_rows": sum(len(rows) for rows in history.values()),
        "persistence_h": walked[0].persistence_hours,
        **{f"{name}_s": value for name, value in median.items()},
        "whole_s": whole,
        "ratio": whole / median["latest"],
    }


def section(f: dict[str, float]) -> str:
    return "\n".join(
        [
            "<!-- top:start -->",
            "## Carry opportunities: `top` (issue 5)",
            "",
            "SQLite, one simulated cycle copied into "
            f"{f['cycles']:.0f} cycles 5 minutes apart ({f['rows']:,.0f} rows). "
            "Command: `.venv/bin/python bench/bench_top.py --write`. Medians of "
            f"{RUNS} runs, `--allow-flags stale` (every replayed row is usable).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| latest row of every contract (the read `rates` does too) | {f['latest_s']:.3f} s |",
            f"| pairing {f['pairs']:.0f} assets, fees, net APR | {f['scan_s']:.3f} s |",
            f"| history of the {f['contracts']:.0f} contracts of the top {SHOWN} pairs "
            f"({f['history_rows']:,.0f} rows) | {f['history_s']:.3f} s |",
            f"| persistence walk over that history | {f['walk_s']:.3f} s |",
            f"| whole `top` read and compute / latest-row read alone | {f['ratio']:.2f}× |",
            f"| persistence found for the top pair (expected {(f['cycles'] - 1) * 5 / 60:.2f} h) "
            f"| {f['persistence_h']:.2f} h |",
            "",
            "The history read is most of the time: one row per contract per cycle, about half of it SQLite",
            "fetching and half building the rows. `top` reads at most `--history-days` of it (default 7,",
            "the week measured here), so a longer store does not make it slower.",
            "<!-- top:end -->",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Replace the top section of BENCHMARKS.md.")
    parser.add_argument("--cycles", type=int, default=2016, help="Stored cycles (default: a week at 5 min).")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # a replay: the venues' "data not moving" warnings are expected
    figures = bench_top(args.cycles)
    text = section(figures)
    print(text)
    print(f"(filling the store took {figures['fill_s']:.1f} s)")
    if args.write:
        write_section("top", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
