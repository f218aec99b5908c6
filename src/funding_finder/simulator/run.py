"""Running the simulator in the foreground (the `funding-finder simulate` command)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from funding_finder.simulator.scale import describe
from funding_finder.simulator.server import Simulator


def format_summary(stats: Mapping[str, Any], elapsed_s: float | None = None) -> str:
    """A plain-text table of requests, violations, rejections and faults per venue."""
    lines = []
    if elapsed_s is not None:
        lines.append(f"simulator ran {elapsed_s:.1f} s")
    lines.append(f"{'venue':<12} {'requests':>9} {'violations':>11} {'rejected':>9} {'faults':>7}")
    for venue, s in stats["venues"].items():
        lines.append(
            f"{venue:<12} {s['requests']:>9} {s['violations']:>11} {s['rejected']:>9} {s['faults']:>7}"
        )
    lines.append(f"{'total':<12} {stats['total_requests']:>9} {stats['total_violations']:>11}")
    if stats.get("unrouted"):
        lines.append(f"requests outside any venue prefix: {stats['unrouted']}")
    return "\n".join(lines)


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    latency_ms: float | None = None,
    faults: Mapping[str, str | None] | None = None,
    seed: int | None = None,
    *,
    hang_s: float = 30.0,
    out: TextIO | None = None,
    scale: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Serve until Ctrl-C or SIGTERM; print the URL at start and the stats summary at exit.

    `scale`: {venue: contracts}, see `simulator.scale`. Returns the final stats.
    """
    out = out or sys.stdout
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim = Simulator(host, port, latency_ms, faults, seed, hang_s=hang_s, scale=scale)
    started = time.monotonic()
    try:
        sim.start()
        print(f"simulator listening on {sim.url}", file=out)
        for venue in sim.venues:
            print(f"  {venue:<12} {sim.venue_url(venue)}", file=out)
        for line in describe(sim.scale):
            print(line, file=out)
        print(f"  stats        {sim.url}/_sim/stats", file=out, flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    stats = sim.stats()
    print(format_summary(stats, time.monotonic() - started), file=out, flush=True)
    return stats
