"""One rate gate per venue: the venue's published limits as data, enforced by booking every call.

Every limit is treated as a sliding window (the strictest reading of a fixed or sliding window) with a
small safety margin. A caller reserves a slot under a lock and sleeps until it, which spaces callers out
instead of letting them stampede at a window edge. A 429 or a ban pauses the whole gate, so every
thread of the venue waits.

Slots are first come, first served: a caller keeps its place from its first reservation to its send.
When its slot turns out too early (a call it waited behind answered later than the slot assumed, or a
pause began), it moves its own reservation later, and callers that came after it never count in its
schedule; so it never loses its turn to them, and no slot is left unused by a caller that re-books at
the back. The schedule is greedy: a call leaves as soon as the window has room for it, so up to a
window's capacity may leave together (a burst no larger than the venue allows), and the calls beyond
it get one slot each as the earlier units leave the window, never all at one window edge.

Why a venue counting at arrival never sees a limit crossed, whatever the network does: each call is
checked once more at the moment it leaves, against the window ending then, and a call made through
`RateGate.call` is booked until its answer as *in flight* (it may be counted at any moment) and from its
answer on at the answer time, which is never before the venue counted it. So the last call sent among
any set the venue counts together saw all the others in its own check.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from funding_finder.errors import DeadlineExceeded

Scope = Literal["ip", "endpoint", "instrument"]

DEFAULT_MARGIN = 0.02
"""Fraction of each capacity held back (at least one unit is always usable). The gate counts every call
it lets through exactly, where the venue may count it, so the margin is not what keeps a venue's count
under its limit; it is a little room for a venue that counts a few units more than it documents. It was
10 % once: in a long run that cost up to a whole window (a Hyperliquid backfill fitted 24 calls of 45
weight in a minute where the limit holds 26) and protected against nothing the gate does not count."""


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


@dataclass(eq=False)
class _Booking:
    """One call's units in one bucket, at `at` (monotonic s): its reserved slot, then its send time,
    then (for a tracked call) its answer time. `reserved`: waiting for its slot, not sent yet (kept
    however long the wait); `in_flight`: sent and not answered yet."""

    at: float
    units: int
    in_flight: bool = False
    reserved: bool = False
    seq: int = 0
    """Arrival order of the caller (first come, first served); 0 for bookings that are no caller's."""

    def counts_for(self, other: _Booking) -> bool:
        """Whether this booking is in `other`'s schedule: every call sent, and the reservations of the
        callers that came before it (never those of the callers behind it)."""
        return self is not other and (not self.reserved or self.seq < other.seq)

    def counted_at(self, now: float) -> float:
        """The latest time the venue may count it: a call in flight may be counted right now."""
        return max(self.at, now) if self.in_flight else self.at


@dataclass
class _Bucket:
    """The bookings of one limit and scope key."""

    capacity: int
    window_s: float
    bookings: list[_Booking] = field(default_factory=list)

    def prune(self, now: float) -> None:
        self.bookings = [b for b in self.bookings if b.in_flight or b.reserved or b.at > now - self.window_s]

    def earliest(self, booking: _Booking, not_before: float, now: float) -> float:
        """The first time ≥ not_before at which `booking`'s units fit in the window ending then
        without crowding the window of any earlier caller's reservation (first come, first served:
        a later call may take a free slot ahead of an earlier one that waits, for this or another
        limit, only where the earlier one still fits at its own slot)."""
        schedule = sorted(
            ((b.counted_at(now), b.units, b.reserved) for b in self.bookings if b.counts_for(booking)),
            key=lambda entry: entry[0],
        )
        times = [at for at, _, _ in schedule]
        totals = list(itertools.accumulate((units for _, units, _ in schedule), initial=0))

        def used(end: float) -> int:  # units counted in the window (end - window_s, end]
            first = bisect.bisect_right(times, end - self.window_s)
            return totals[bisect.bisect_right(times, end)] - totals[first]

        turns = [at for at, _, reserved in schedule if reserved]
        frees = sorted(at + self.window_s for at in times if at + self.window_s > not_before)
        candidates = [not_before, *frees]
        for t in candidates:
            if used(t) + booking.units > self.capacity:
                continue
            later = turns[bisect.bisect_right(turns, t) : bisect.bisect_left(turns, t + self.window_s)]
            if all(used(turn) + booking.units <= self.capacity for turn in later):
                return t
        return candidates[-1]  # every booking has left the window by then

    def fits_now(self, booking: _Booking, now: float) -> bool:
        """Whether `booking`'s units fit in the window ending `now`, the others counted where the
        venue may count them."""
        used = sum(
            b.units
            for b in self.bookings
            if b.counts_for(booking) and now - self.window_s < b.counted_at(now) <= now
        )
        return used + booking.units <= self.capacity

    def used(self, now: float) -> int:
        return sum(b.units for b in self.bookings if now - self.window_s < b.counted_at(now) <= now)


@dataclass
class GateStats:
    """What the gate did: calls let through, waits (count and seconds), pauses caused by the venue."""

    acquired: int = 0
    waits: int = 0
    wait_s: float = 0.0
    pauses: int = 0


class RateGate:
    """Thread-safe, blocking gate shared by all workers of one venue.

    `margin` is the fraction of each capacity kept in reserve (at least one unit is always usable);
    `window_pad_s` widens every window to absorb the venue's own clock granularity. `clock` and `sleep`
    are injectable so that tests run on a fake clock without sleeping.
    """

    def __init__(
        self,
        venue: str,
        limits: Sequence[Limit],
        *,
        margin: float = DEFAULT_MARGIN,
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
        self._seq = 0
        self._lock = threading.Lock()

    def effective_capacity(self, limit: Limit) -> int:
        return max(1, math.floor(limit.capacity * (1 - self.margin)))

    def pace(self, endpoint: str, instrument: str | None = None) -> tuple[float, tuple[str, str] | None]:
        """Seconds between two calls to `endpoint` that its strictest limit sustains, and the bucket
        of that limit (0 and None if no limit charges it). A fan-out uses it to start every call
        near the earliest time the gate can let it leave."""
        paces = [
            (
                (limit.window_s + self.window_pad_s)
                * min(limit.cost_of(endpoint), limit.capacity)
                / self.effective_capacity(limit),
                limit.bucket_key(endpoint, instrument),
            )
            for limit in self.limits
            if limit.cost_of(endpoint) > 0
        ]
        return max(paces, default=(0.0, None))

    def start_order(self, calls: Sequence[tuple[str, str | None]]) -> list[int]:
        """The indices of `calls` (endpoint, instrument) in the order their earliest leaving times
        come, the calls sharing their strictest bucket spaced by its pace: Deribit's four 1-per-second
        lists at 0, 1, 2, 3 s and its book summaries at once in between, so that a bounded fan-out
        makes the quick calls while the paced ones wait, instead of filling its workers with waiters."""
        seen: dict[object, int] = {}
        keys = []
        for index, (endpoint, instrument) in enumerate(calls):
            pace_s, bucket = self.pace(endpoint, instrument)
            turn = seen.get(bucket, 0)
            seen[bucket] = turn + 1
            keys.append((turn * pace_s, -pace_s, index))
        return [index for _, _, index in sorted(keys)]

    def acquire(self, endpoint: str, instrument: str | None = None, deadline: float | None = None) -> float:
        """Block until a call to `endpoint` fits every limit; return the time it may leave (`clock()`).

        The call is booked at that time. `deadline` is a `clock()` value: if no slot exists before
        it, nothing is booked and DeadlineExceeded is raised instead of waiting past it.
        """
        sent_at, _ = self._take(endpoint, instrument, deadline, in_flight=False)
        return sent_at

    @contextmanager
    def call(
        self, endpoint: str, instrument: str | None = None, deadline: float | None = None
    ) -> Iterator[float]:
        """`acquire`, with the call booked as in flight until the block ends (its answer, or its
        failure: a call that failed may still have been counted), then at that end time."""
        sent_at, bookings = self._take(endpoint, instrument, deadline, in_flight=True)
        try:
            yield sent_at
        finally:
            with self._lock:
                now = self.clock()
                for _, booking in bookings:
                    booking.at, booking.in_flight = max(booking.at, now), False

    def _take(
        self, endpoint: str, instrument: str | None, deadline: float | None, *, in_flight: bool
    ) -> tuple[float, list[tuple[_Bucket, _Booking]]]:
        started = self.clock()
        bookings: list[tuple[_Bucket, _Booking]] = []
        try:
            while True:
                slot = self._reserve(endpoint, instrument, deadline, bookings)
                self._sleep_until(slot, deadline, endpoint)
                with self._lock:
                    now = self.clock()
                    if now >= self._paused_until and all(b.fits_now(k, now) for b, k in bookings):
                        for _, booking in bookings:
                            booking.at, booking.in_flight, booking.reserved = now, in_flight, False
                        self._count(now - started)
                        return now, bookings
                # answers arrived later than the slot assumed, or a pause began: move the slot, keep the turn
        except BaseException:  # the deadline, or an interrupt: the call never leaves
            self._release(bookings)
            raise

    def _release(self, bookings: list[tuple[_Bucket, _Booking]]) -> None:
        with self._lock:
            for bucket, booking in bookings:
                if booking in bucket.bookings:
                    bucket.bookings.remove(booking)

    def _reserve(
        self,
        endpoint: str,
        instrument: str | None,
        deadline: float | None,
        bookings: list[tuple[_Bucket, _Booking]],
    ) -> float:
        """The caller's next slot; its bookings are made on the first call (that is its place in the
        queue) and moved to the slot on every call."""
        with self._lock:
            now = self.clock()
            if not bookings:
                self._seq += 1
                for bucket, cost in self._charged(endpoint, instrument):
                    booking = _Booking(now, min(cost, bucket.capacity), reserved=True, seq=self._seq)
                    bucket.bookings.append(booking)
                    bookings.append((bucket, booking))
            slot = max(now, self._paused_until)
            for bucket, booking in bookings:
                bucket.prune(now)
                slot = max(slot, bucket.earliest(booking, slot, now))
            if deadline is not None and slot > deadline:
                raise DeadlineExceeded(self.venue, endpoint, "no rate-limit slot before the deadline")
            for _, booking in bookings:
                booking.at = slot
            return slot

    def _count(self, waited_s: float) -> None:
        self.stats.acquired += 1
        if waited_s > 0.001:
            self.stats.waits += 1
            self.stats.wait_s += waited_s

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
                        bucket.bookings.append(_Booking(now, missing))

    def used(self, limit_name: str) -> int:
        """Units counted in the current window of a limit (its IP-wide bucket, or the sum of its keys)."""
        with self._lock:
            now = self.clock()
            return sum(b.used(now) for (name, _), b in self._buckets.items() if name == limit_name)

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per declared limit: (units counted in the window ending now, in its busiest bucket; the
        published capacity). Read after a venue's calls, it is what the cycle used of each limit."""
        with self._lock:
            now = self.clock()
            found: dict[str, tuple[int, int]] = {}
            for limit in self.limits:
                used = [b.used(now) for (name, _), b in self._buckets.items() if name == limit.name]
                found[limit.name] = (max(used, default=0), limit.capacity)
            return found
