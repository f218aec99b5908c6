"""One rate gate per venue: the venue's published limits as data, enforced by slot reservation.

Every limit is treated as a sliding window (the strictest reading of a fixed or sliding window) with a
small safety margin, so a venue that counts requests at arrival never sees its limit crossed. Callers
reserve a slot under a lock and then sleep until it, which spaces them out instead of letting them
stampede at a window edge. A 429 or a ban pauses the whole gate, so every thread of the venue waits.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from funding_finder.errors import DeadlineExceeded

Scope = Literal["ip", "endpoint", "instrument"]


@dataclass(frozen=True)
class Limit:
    """At most `capacity` units per `window_s` seconds, charged by the endpoints named in `costs`.

    `costs` maps an endpoint name to the units one call charges (Binance weights); endpoints not in
    it charge `default_cost` (0 means the limit does not concern them). `scope` says what is counted
    together: the whole IP, each endpoint, or each instrument (OKX counts IP + instId).
    """

    name: str
    capacity: int
    window_s: float
    scope: Scope = "ip"
    costs: Mapping[str, int] = field(default_factory=dict)
    default_cost: int = 1

    def cost_of(self, endpoint: str) -> int:
        return self.costs.get(endpoint, self.default_cost)

    def bucket_key(self, endpoint: str, instrument: str | None) -> tuple[str, str]:
        if self.scope == "endpoint":
            return (self.name, endpoint)
        if self.scope == "instrument":
            return (self.name, f"{endpoint}:{instrument or ''}")
        return (self.name, "")


@dataclass
class _Bucket:
    """Reserved slots of one limit and scope key, oldest first: (monotonic time s, units)."""

    capacity: int
    window_s: float
    slots: deque[tuple[float, int]] = field(default_factory=deque)

    def earliest(self, cost: int, not_before: float) -> float:
        """The first time ≥ not_before (and ≥ the last slot) at which `cost` more units fit."""
        cost = min(cost, self.capacity)
        t = max(not_before, self.slots[-1][0] if self.slots else not_before)
        live = [(at, units) for at, units in self.slots if at > t - self.window_s]
        used = sum(units for _, units in live)
        for at, units in live:
            if used + cost <= self.capacity:
                break
            used -= units
            t = max(t, at + self.window_s)
        return t

    def reserve(self, at: float, cost: int, now: float) -> None:
        while self.slots and self.slots[0][0] <= now - self.window_s:
            self.slots.popleft()
        bisect.insort(self.slots, (at, min(cost, self.capacity)))

    def cancel(self, at: float, cost: int) -> None:
        entry = (at, min(cost, self.capacity))
        if entry in self.slots:
            self.slots.remove(entry)

    def used(self, now: float) -> int:
        return sum(units for at, units in self.slots if now - self.window_s < at <= now)


@dataclass
class GateStats:
    """What the gate did in one cycle: waits (count and seconds), pauses caused by the venue."""

    acquired: int = 0
    waits: int = 0
    wait_s: float = 0.0
    pauses: int = 0


class RateGate:
    """Thread-safe, blocking gate shared by all workers of one venue.

    `margin` is the fraction of each capacity kept in reserve (at least one unit is always usable);
    `window_pad_s` widens every window to absorb jitter between our send and the venue's arrival
    count. `clock` and `sleep` are injectable so that tests run on a fake clock without sleeping.
    """

    def __init__(
        self,
        venue: str,
        limits: Sequence[Limit],
        *,
        margin: float = 0.1,
        window_pad_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.venue = venue
        self.limits = tuple(limits)
        self.margin = margin
        self.window_pad_s = window_pad_s
        self.clock = clock
        self.sleep = sleep
        self.stats = GateStats()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def effective_capacity(self, limit: Limit) -> int:
        return max(1, math.floor(limit.capacity * (1 - self.margin)))

    def acquire(self, endpoint: str, instrument: str | None = None, deadline: float | None = None) -> float:
        """Block until a call to `endpoint` fits every limit; return its slot (a `clock()` value).

        `deadline` is a `clock()` value: if no slot exists before it, nothing is reserved and
        DeadlineExceeded is raised instead of waiting past it. A caller that wakes later than its
        slot (a busy machine, a pause) gives the slot back and reserves again, so that the booked
        time stays the time the call really leaves.
        """
        started = self.clock()
        while True:
            slot, charged = self._reserve(endpoint, instrument, deadline)
            self._sleep_until(slot, deadline, endpoint)
            if self.clock() - slot <= self.window_pad_s / 2:
                break
            self._cancel(charged, slot)
        waited = self.clock() - started
        with self._lock:
            self.stats.acquired += 1
            if waited > 0.001:
                self.stats.waits += 1
                self.stats.wait_s += waited
        return slot

    def _reserve(
        self, endpoint: str, instrument: str | None, deadline: float | None
    ) -> tuple[float, list[tuple[_Bucket, int]]]:
        with self._lock:
            now = self.clock()
            charged = self._charged(endpoint, instrument)
            slot = max(now, self._paused_until)
            for bucket, cost in charged:
                slot = max(slot, bucket.earliest(cost, slot))
            if deadline is not None and slot > deadline:
                raise DeadlineExceeded(self.venue, endpoint, "no rate-limit slot before the deadline")
            for bucket, cost in charged:
                bucket.reserve(slot, cost, now)
            return slot, charged

    def _cancel(self, charged: list[tuple[_Bucket, int]], slot: float) -> None:
        with self._lock:
            for bucket, cost in charged:
                bucket.cancel(slot, cost)

    def _charged(self, endpoint: str, instrument: str | None) -> list[tuple[_Bucket, int]]:
        charged = []
        for limit in self.limits:
            cost = limit.cost_of(endpoint)
            if cost <= 0:
                continue
            key = limit.bucket_key(endpoint, instrument)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(self.effective_capacity(limit), limit.window_s + self.window_pad_s)
                self._buckets[key] = bucket
            charged.append((bucket, cost))
        return charged

    def _sleep_until(self, slot: float, deadline: float | None, endpoint: str) -> None:
        """Sleep until the slot, and longer if the venue paused the gate meanwhile."""
        target = slot
        while True:
            remaining = target - self.clock()
            if remaining > 0:
                self.sleep(remaining)
            with self._lock:
                target = max(target, self._paused_until)
            if self.clock() >= target:
                return
            if deadline is not None and target > deadline:
                raise DeadlineExceeded(self.venue, endpoint, "venue paused past the deadline")

    def pause_for(self, seconds: float) -> None:
        """Hold every caller of this venue for `seconds` (a 429's Retry-After, a ban)."""
        with self._lock:
            until = self.clock() + seconds
            if until > self._paused_until:
                self._paused_until = until
                self.stats.pauses += 1

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def observe_usage(self, limit_name: str, used_units: int) -> None:
        """Resync from a usage header (Binance `X-MBX-USED-WEIGHT-1M`): if the venue counted more
        than we did (another process on the same IP), book the difference now."""
        with self._lock:
            now = self.clock()
            for (name, _), bucket in self._buckets.items():
                if name == limit_name:
                    missing = used_units - bucket.used(now)
                    if missing > 0:
                        bucket.reserve(now, missing, now)

    def used(self, limit_name: str) -> int:
        """Units counted in the current window of a limit (its IP-wide bucket, or the sum of its keys)."""
        with self._lock:
            now = self.clock()
            return sum(b.used(now) for (name, _), b in self._buckets.items() if name == limit_name)
