"""Answer delay: log-normal around a median, like a distant venue seen over the internet."""

from __future__ import annotations

import math
import random
import threading

DEFAULT_MEDIAN_MS = 150.0
DEFAULT_SIGMA = 0.5
CAP_S = 2.0


class Latency:
    """Delays in seconds drawn from a log-normal distribution; seedable and thread-safe.

    `median_ms` None means the default (150 ms); 0 means no delay. Draws are capped at 2 s (or at the
    median when that is larger). `sigma` 0 gives a fixed delay of `median_ms`.
    """

    def __init__(self, median_ms: float | None = None, sigma: float = DEFAULT_SIGMA, seed: int | None = None):
        median_ms = DEFAULT_MEDIAN_MS if median_ms is None else float(median_ms)
        if median_ms < 0 or sigma < 0:
            raise ValueError("latency median and sigma must be ≥ 0")
        self.median_s = median_ms / 1000
        self.sigma = sigma
        self.cap_s = max(CAP_S, self.median_s)
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> float:
        if self.median_s == 0:
            return 0.0
        with self._lock:
            delay = self._random.lognormvariate(math.log(self.median_s), self.sigma)
        return min(delay, self.cap_s)
