"""CPU seconds and peak RSS of one collect cycle of ~10k contracts, the collecting process alone.

Run from the repository root:  .venv/bin/python bench/bench_cpu.py [--write]
With --write the figures replace the "cpu" section of BENCHMARKS.md.

The simulator runs in this process (its threads are not counted), with every venue's real limits,
latency log-normal around 150 ms, and the venues scaled to `SCALE` (the `realistic` preset × 1.3,
synthetic clones, simulator/scale.py). Each measured cycle runs in a fresh child process
(`--child`): imports, a new SQLite store in a temporary folder, one `Collector.run_cycle()` over all
24 venues (cold: every instrument list fetched). The parent reads the child's own resource usage from
`os.wait4` (user + system CPU seconds, peak resident set size). A child that only imports and opens the
store is the baseline; the cycle's cost is the difference. The unscaled simulator (1278 rows) is
measured the same way, for the cost per row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sections import write_section

from funding_finder.simulator import Simulator
from funding_finder.simulator.scale import REALISTIC

MEDIAN_LATENCY_MS = 150.0
SCALE = {venue: round(count * 1.3) for venue, count in REALISTIC.items()}
ROUNDS = 3


def child(mode: str, sim_url: str, db: str) -> int:
    """In the child process: imports, a store, and (mode "cycle") one cycle; prints a JSON summary."""
    from funding_finder.collector import Collector, CollectorConfig
    from funding_finder.exchanges import VENUES
    from funding_finder.store import Store

    store = Store(db)
    summary: dict[str, Any] = {"rows": 0, "wall_s": 0.0}
    if mode == "cycle":
        base_urls = {venue: f"{sim_url}/{venue}" for venue in VENUES}
        collector = Collector(store, list(VENUES), CollectorConfig(base_urls=base_urls))
        started = time.perf_counter()
        result = collector.run_cycle()
        summary = {"rows": result.rows, "wall_s": time.perf_counter() - started, "status": result.status}
    store.close()
    print(json.dumps(summary))
    return 0


def measure(mode: str, sim: Simulator, folder: Path, name: str) -> dict[str, Any]:
    """One child run: its summary plus its CPU seconds and peak RSS (MiB), and the violations it caused."""
    sim.reset()
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--sim",
        sim.url,
        "--db",
        str(folder / f"{name}.db"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"child {mode} exited {process.returncode}")
    summary = json.loads(output.strip().splitlines()[-1])
    stats = sim.stats()
    return {
        **summary,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
        "violations": stats["total_violations"],
        "requests": stats["total_requests"],
    }


def bench(folder: Path) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {"imports": [], "plain": [], "scaled": []}
    with (
        Simulator(latency_ms=MEDIAN_LATENCY_MS, seed=7) as plain,
        Simulator(latency_ms=MEDIAN_LATENCY_MS, seed=7, scale=SCALE) as scaled,
    ):
        for round_no in range(ROUNDS):
            runs["imports"].append(measure("imports", plain, folder, f"imports-{round_no}"))
            runs["plain"].append(measure("cycle", plain, folder, f"plain-{round_no}"))
            runs["scaled"].append(measure("cycle", scaled, folder, f"scaled-{round_no}"))
    return runs


def report(runs: dict[str, list[dict[str, Any]]]) -> str:
    def med(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    base_cpu, base_rss = med("imports", "cpu_s"), med("imports", "rss_mib")

    def line(name: str, label: str) -> str:
        cpu, rss, rows = med(name, "cpu_s"), med(name, "rss_mib"), med(name, "rows")
        per_k = (cpu - base_cpu) / rows * 1000
        return (
            f"| {label} | {rows:.0f} | {med(name, 'wall_s'):.2f} s | {cpu:.2f} s ({cpu - base_cpu:+.2f} s) | "
            f"{per_k:.3f} s | {rss:.0f} MiB ({rss - base_rss:+.0f} MiB) |"
        )

    violations = sum(run["violations"] for name in ("plain", "scaled") for run in runs[name])
    return "\n".join(
        [
            "<!-- cpu:start -->",
            "## CPU and memory of a cycle",
            "",
            f"Simulator: real limits, latency log-normal, median {MEDIAN_LATENCY_MS:.0f} ms, in the parent "
            "process. Command: `.venv/bin/python bench/bench_cpu.py --write`. Each cycle runs in a fresh "
            "child process (cold: every instrument list fetched, SQLite store); its CPU (user + system) and "
            f"peak RSS come from `os.wait4`. Median of {ROUNDS} runs each.",
            "",
            "| child process | rows stored | cycle wall time | CPU (over the baseline) | CPU per 1000 rows | "
            "peak RSS (over the baseline) |",
            "|---|---|---|---|---|---|",
            f"| baseline: imports + open the store | — | — | {base_cpu:.2f} s | — | {base_rss:.0f} MiB |",
            line("plain", "one cycle, 24 venues, as recorded"),
            line("scaled", "one cycle, 24 venues, scaled (`realistic` × 1.3)"),
            "",
            f"Limit violations counted by the simulator, all cycles: {violations}. The scaled cycle's rows",
            "are the recorded ones plus synthetic clones (`SIMnnnnn…`). Its wall time stays that of the",
            "unscaled cycle: a bulk venue makes the same calls whatever its contract count (Crypto.com, one",
            f"call per perpetual, makes {SCALE['cryptocom']} instead of 3, at 100 per s).",
            "<!-- cpu:end -->",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--child", choices=("imports", "cycle"), help=argparse.SUPPRESS)
    parser.add_argument("--sim", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.sim, args.db)
    with tempfile.TemporaryDirectory() as folder:
        runs = bench(Path(folder))
    text = report(runs)
    print(text)
    if args.write:
        write_section("cpu", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
