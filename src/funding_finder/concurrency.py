"""How many of one venue's calls may be in flight at once: sized from its rate limit, adapted at run time.

The rate gate paces a venue's calls; this bounds how many are started, so that a venue's threads do
not pile up waiting at its gate. By Little's law a venue that answers in `latency_s` and allows
`rate_per_s` calls per second needs `rate_per_s × latency_s` calls in flight to run at its limit; the
limit starts there, with a small margin, and then adapts like a congestion window (additive increase,
multiplicative decrease): every successful answer that did not wait at the gate adds `1 / limit` (one
more call per round of answers; a call that waited found the limit, not the calls in flight, the
bottleneck), a "too many requests" answer halves it (at most once per round trip, since the
calls in flight when the venue started refusing answer together). It never exceeds `pool_size`, the
connections of the venue's `requests.Session`, and never drops below 1.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

from funding_finder.ratelimit import DEFAULT_MARGIN, Limit

DEFAULT_LATENCY_S = 0.25
"""Round trip in seconds assumed before the venue's first answer (a distant venue over the internet)."""
MARGIN = 0.25
"""Fraction added to rate × latency, for the spread of round trips around their average."""
LATENCY_WEIGHT = 0.2
"""Weight of a new answer in the moving average of round trips."""
WAITED_S = 0.001
"""A call that waited longer than this (seconds) at the gate found the venue's limit the bottleneck."""


def allowed_rate_per_s(
    limits: Iterable[Limit], endpoints: Iterable[str], margin: float = DEFAULT_MARGIN
) -> float:
    """Calls per second a venue's declared limits sustain for its fastest endpoint (`math.inf` when no
    limit charges any): per endpoint, the strictest of its limits' `capacity × (1 − margin) / (cost ×
    window_s)`; the fastest endpoint sets the rate, since the venue's other calls are paced apart and
    add calls in flight rather than remove them."""
    limits = tuple(limits)
    rates = []
    for endpoint in endpoints:
        charged = [
            max(1.0, math.floor(limit.capacity * (1 - margin))) / (limit.cost_of(endpoint) * limit.window_s)
            for limit in limits
            if limit.cost_of(endpoint) > 0
        ]
        rates.append(min(charged, default=math.inf))
    return max(rates, default=math.inf)


class InFlightLimit:
    """Thread-safe adaptive bound on one venue's calls in flight; `clock` (monotonic s) is injectable.

    `allowed()` is what a fan-out may have running (`fan_out(workers=limit.allowed)`); `observe` feeds
    it every answer (its round trip in seconds, its wait at the gate in seconds, whether it said "too
    many requests").
    """

    def __init__(
        self,
        rate_per_s: float,
        pool_size: int,
        *,
        latency_s: float | None = None,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.pool_size = max(1, pool_size)
        self.margin = margin
        self.clock = clock
        self.latency_s = DEFAULT_LATENCY_S if latency_s is None else latency_s
        self._measured = latency_s is not None
        self._decreased = False
        self._last_decrease = -math.inf
        self._limit = self._target()
        self._lock = threading.Lock()

    def _target(self) -> float:
        """rate × latency × (1 + margin), within [1, pool_size]."""
        wanted = self.rate_per_s * self.latency_s * (1 + self.margin)
        return float(min(self.pool_size, max(1.0, math.ceil(wanted) if math.isfinite(wanted) else math.inf)))

    @property
    def limit(self) -> float:
        """The current bound (a float: additive increase moves it by fractions)."""
        with self._lock:
            return self._limit

    def allowed(self) -> int:
        """How many calls may be in flight now: the whole part of the bound, at least 1."""
        with self._lock:
            return max(1, math.floor(self._limit))

    def observe(
        self,
        latency_s: float | None,
        *,
        waited_s: float = 0.0,
        rate_limited: bool = False,
        succeeded: bool = True,
    ) -> None:
        """One answer: its round trip (None when it had none, a transport failure), the seconds it
        waited at the gate, whether the venue said "too many requests", and whether it succeeded
        (only a success that did not wait at the gate adds to the limit)."""
        with self._lock:
            if latency_s is not None and latency_s >= 0:
                self._learn_latency(latency_s)
            now = self.clock()
            if rate_limited:
                if now - self._last_decrease >= self.latency_s:
                    self._limit = max(1.0, self._limit / 2)
                    self._last_decrease, self._decreased = now, True
            elif succeeded and waited_s <= WAITED_S:
                self._limit = min(float(self.pool_size), self._limit + 1 / self._limit)

    def _learn_latency(self, latency_s: float) -> None:
        if not self._measured:
            # the first round trip replaces the guess, and the start value follows it
            self.latency_s, self._measured = latency_s, True
            if not self._decreased:
                self._limit = self._target()
            return
        self.latency_s += LATENCY_WEIGHT * (latency_s - self.latency_s)
