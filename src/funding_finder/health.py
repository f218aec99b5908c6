"""Venue health over the stored cycles: stale for N cycles in a row, or failing too often.

Pure functions over `Store.cycles()` records (newest first), so the collector's log, the `cycles`
command and a service's health endpoint read the same verdict.

- A venue is **stale** when its newest `stale_after_cycles` runs in a row brought no rows or data
  that did not move (`live` false: every settlement already past, or every contract unchanged since
  the previous cycle; its rows are then flagged `stale` one by one already).
- A venue is **failing** when more than `failure_rate_alert` (a fraction) of its runs in the last
  `window_cycles` cycles failed: status `failed` or `deadline`, i.e. no rows that cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from funding_finder.store import CycleRecord, VenueRun

FAILED_STATUSES = frozenset({"failed", "deadline"})
"""Run statuses that brought no rows (`partial` brought some)."""


@dataclass(frozen=True)
class HealthThresholds:
    """When a venue is reported: `stale_after_cycles` runs in a row (count), `failure_rate_alert` a
    fraction of runs in the last `window_cycles` cycles (count)."""

    stale_after_cycles: int = 3
    failure_rate_alert: float = 0.5
    window_cycles: int = 10


@dataclass(frozen=True)
class VenueHealth:
    exchange: str
    runs: int
    """Runs of the venue in the window (cycles it was part of)."""
    failed_runs: int
    stale_cycles: int
    """Newest runs in a row with no rows or data not moving."""
    stale: bool
    failing: bool
    last_status: str

    @property
    def failure_rate(self) -> float:
        """Failed runs per run in the window, a fraction (0 with no run)."""
        return self.failed_runs / self.runs if self.runs else 0.0

    @property
    def healthy(self) -> bool:
        return not (self.stale or self.failing)

    def to_json(self) -> dict[str, object]:
        return {
            "exchange": self.exchange,
            "runs": self.runs,
            "failed_runs": self.failed_runs,
            "failure_rate": self.failure_rate,
            "stale_cycles": self.stale_cycles,
            "stale": self.stale,
            "failing": self.failing,
            "last_status": self.last_status,
        }


def _no_data(run: VenueRun) -> bool:
    return run.rows == 0 or run.live is False


def venue_health(
    cycles: Sequence[CycleRecord], thresholds: HealthThresholds = HealthThresholds()
) -> dict[str, VenueHealth]:
    """Per venue seen in the newest `window_cycles` of `cycles` (newest first), its health."""
    window = list(cycles)[: thresholds.window_cycles]
    by_venue: dict[str, list[VenueRun]] = {}
    for cycle in window:
        for run in cycle.venues:
            by_venue.setdefault(run.exchange, []).append(run)
    health = {}
    for exchange, runs in sorted(by_venue.items()):
        stale_cycles = 0
        for run in runs:
            if not _no_data(run):
                break
            stale_cycles += 1
        failed = sum(run.status in FAILED_STATUSES for run in runs)
        health[exchange] = VenueHealth(
            exchange=exchange,
            runs=len(runs),
            failed_runs=failed,
            stale_cycles=stale_cycles,
            stale=stale_cycles >= thresholds.stale_after_cycles,
            failing=failed / len(runs) > thresholds.failure_rate_alert,
            last_status=runs[0].status,
        )
    return health


def problems(health: Iterable[VenueHealth], thresholds: HealthThresholds = HealthThresholds()) -> list[str]:
    """One line per unhealthy venue, for a log or a terminal."""
    lines = []
    for venue in health:
        if venue.stale:
            lines.append(
                f"{venue.exchange}: stale for {venue.stale_cycles} cycles in a row (no rows or data "
                f"not moving; threshold {thresholds.stale_after_cycles})"
            )
        if venue.failing:
            lines.append(
                f"{venue.exchange}: failed {venue.failed_runs} of its last {venue.runs} cycles "
                f"({venue.failure_rate:.0%}, above {thresholds.failure_rate_alert:.0%})"
            )
    return lines
