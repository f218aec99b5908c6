"""Sliding-window accounting of the limits in `limits.py`, counted at each request's arrival.

A request arriving at time t with cost c is over a pool when the accepted costs in (t - window, t]
plus c exceed the pool's capacity. An over-limit request consumes nothing. All pools a request charges
are checked and charged together under one lock, so a request is either admitted everywhere or nowhere.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from funding_finder.simulator.limits import ANY, Charge, Pool, VenueLimits
from funding_finder.simulator.routes import params_match, path_matches


class SlidingWindow:
    """Accepted (arrival time s, cost) events of one pool key, in arrival order."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._times: list[float] = []
        self._costs: list[int] = []

    def _span(self, t: float) -> tuple[int, int]:
        return bisect.bisect_right(self._times, t - self.window_s), bisect.bisect_right(self._times, t)

    def used(self, t: float) -> int:
        lo, hi = self._span(t)
        return sum(self._costs[lo:hi])

    def add(self, t: float, cost: int) -> None:
        # Threads may record slightly out of arrival order: insert in place; keep one extra window of
        # history so a late-recorded earlier arrival still sees its own window.
        i = bisect.bisect_right(self._times, t)
        self._times.insert(i, t)
        self._costs.insert(i, cost)
        drop = bisect.bisect_right(self._times, self._times[-1] - 2 * self.window_s)
        del self._times[:drop], self._costs[:drop]

    def free_at(self, t: float, cost: int, capacity: int) -> float:
        """Earliest time ≥ t at which `cost` more fits, assuming no other arrivals."""
        lo, hi = self._span(t)
        excess = sum(self._costs[lo:hi]) + cost - capacity
        for i in range(lo, hi):
            if excess <= 0:
                break
            excess -= self._costs[i]
            if excess <= 0:
                return self._times[i] + self.window_s
        return t

    def oldest(self, t: float) -> float | None:
        lo, hi = self._span(t)
        return self._times[lo] if lo < hi else None


@dataclass(frozen=True)
class Admission:
    accepted: bool
    pool: Pool | None = None  # the pool the request would have crossed
    retry_after_s: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Limiter:
    """Windows of every venue, pool and scope key; thread-safe."""

    def __init__(self, table: Mapping[str, VenueLimits], wall: Callable[[], float] = time.time) -> None:
        self._table = table
        self._wall = wall
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], SlidingWindow] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def admit(
        self, venue: str, method: str, path: str, params: Mapping[str, Any], client: str, t: float
    ) -> Admission:
        limits = self._table.get(venue)
        if limits is None:
            return Admission(True)
        charge = _charge_for(limits, method, path, params)
        costs = charge.costs if charge else ()
        with self._lock:
            charged = [(limits.pool(name), cost) for name, cost in costs]
            for pool, cost in charged:
                window = self._window(venue, pool, path, params, client)
                if window.used(t) + cost > pool.capacity:
                    retry = max(1, math.ceil(window.free_at(t, cost, pool.capacity) - t))
                    headers = self._usage(venue, limits, path, params, client, t)
                    return Admission(False, pool, retry, headers)
            for pool, cost in charged:
                self._window(venue, pool, path, params, client).add(t, cost)
            return Admission(True, headers=self._usage(venue, limits, path, params, client, t))

    def _window(
        self, venue: str, pool: Pool, path: str, params: Mapping[str, Any], client: str
    ) -> SlidingWindow:
        key = (venue, pool.name, client, *(_scope_part(s, path, params) for s in pool.scope))
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(pool.window_s)
        return window

    def _usage(
        self,
        venue: str,
        limits: VenueLimits,
        path: str,
        params: Mapping[str, Any],
        client: str,
        t: float,
    ) -> dict[str, str]:
        headers = {}
        for header in limits.headers:
            pool = limits.pool(header.pool)
            window = self._window(venue, pool, path, params, client)
            used = window.used(t)
            if header.value == "used":
                headers[header.name] = str(used)
            elif header.value == "limit":
                headers[header.name] = str(pool.capacity)
            elif header.value == "remaining":
                headers[header.name] = str(max(0, pool.capacity - used))
            elif header.value == "reset_epoch_s":
                oldest = window.oldest(t)
                frees_in = 0.0 if oldest is None else oldest + pool.window_s - t
                headers[header.name] = str(math.ceil(self._wall() + frees_in))
        return headers


def _charge_for(limits: VenueLimits, method: str, path: str, params: Mapping[str, Any]) -> Charge | None:
    for charge in limits.charges:
        if charge.method not in (ANY, method):
            continue
        if charge.path != ANY and not path_matches(charge.path, path):
            continue
        if params_match(charge.match, params):
            return charge
    return None


def _scope_part(scope: str, path: str, params: Mapping[str, Any]) -> str:
    if scope == "endpoint":
        return path
    if scope.startswith("param:"):
        return str(params.get(scope.removeprefix("param:"), ""))
    raise ValueError(f"unknown pool scope {scope!r}")
