"""The pattern the product is built on: a bounded thread fan-out with a deadline.

`fan_out` runs `fn(item)` for every item on a ThreadPoolExecutor and collects what completes. One
item's failure never stops the others and never raises out of `fan_out`: it is counted by kind.
`workers` is a number, or a function asked before every start (a venue's adaptive in-flight limit,
`concurrency.InFlightLimit.allowed`): items are started only while fewer calls than it says are
running, so no thread is made to wait for a turn it may not take. Calls still running when the
deadline passes are abandoned — counted as `deadline`, their late results discarded — so a hung venue
never holds the caller. The threads themselves end when their call returns, which every call's own
timeout bounds.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("funding_finder.fanout")

STOP_POLL_S = 0.1
"""How often, in seconds, a wait looks at its `stop` event."""


class AnyEvent:
    """Set while any of its events is: a stop shared by every venue beside one of the caller's own."""

    def __init__(self, *events: threading.Event | None) -> None:
        self.events = [event for event in events if event is not None]

    def is_set(self) -> bool:
        return any(event.is_set() for event in self.events)


def failure_kind(exc: BaseException) -> str:
    """The counted kind of a failure: a FetchError's own `kind`, else `error` (a bug, logged in full)."""
    return getattr(exc, "kind", "error")


@dataclass
class FanOutResult(Generic[T, R]):
    """Successful results with their items, failures by kind, and per-call latency in seconds."""

    results: list[tuple[T, R]] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[T, BaseException]] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    deadline_hit: bool = False
    abandoned: list[T] = field(default_factory=list)
    """Items whose calls were still running at the deadline (counted as `deadline`) or at a stop."""
    interrupted: bool = False
    """The `stop` event ended the wait (counted as `interrupted`)."""
    peak_in_flight: int = 0
    """The most calls that were running at once."""

    def latency_summary_ms(self) -> dict[str, float]:
        """p50 / p95 / max of the successful calls' durations, in milliseconds."""
        return latency_summary_ms(self.latencies_s)


def latency_summary_ms(latencies_s: list[float]) -> dict[str, float]:
    """p50 / p95 / max of durations given in seconds, in milliseconds (empty when there are none)."""
    if not latencies_s:
        return {}
    ordered = sorted(latencies_s)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "max_ms": ordered[-1] * 1000}


def fan_out(
    items: Iterable[T],
    fn: Callable[[T], R],
    *,
    workers: int | Callable[[], int],
    deadline_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    thread_name_prefix: str = "fan-out",
    on_result: Callable[[T, R], None] | None = None,
    stop: threading.Event | AnyEvent | None = None,
) -> FanOutResult[T, R]:
    """Call `fn` on every item with at most `workers` calls in flight; never raises for an item.

    `workers` is a count or a function returning the count allowed now (read before each start).
    `deadline_s` is a time budget in seconds from the call of `fan_out`. `on_result(item, value)`
    runs in the caller's thread as each call succeeds (the collector writes a venue's rows there, so
    an abandoned call can never write after the deadline). `stop` set (Ctrl-C, SIGTERM) ends the wait
    like a deadline, within `STOP_POLL_S`: the unfinished calls, and the items not started, are
    abandoned and counted `interrupted` (else `deadline`).
    """
    result: FanOutResult[T, R] = FanOutResult()
    waiting = list(items)
    if not waiting:
        return result
    allowed = workers if callable(workers) else (lambda: workers)
    ends_at = None if deadline_s is None else clock() + deadline_s
    most = len(waiting) if callable(workers) else max(1, min(workers, len(waiting)))
    pool = ThreadPoolExecutor(max_workers=most, thread_name_prefix=thread_name_prefix)
    futures: dict[Future[tuple[R, float]], T] = {}
    pending: set[Future[tuple[R, float]]] = set()
    waiting.reverse()  # popped from the end: items start in their given order
    try:
        while (pending or waiting) and not (stop is not None and stop.is_set()):
            while waiting and len(pending) < max(1, allowed()):
                item = waiting.pop()
                future = pool.submit(_timed, fn, item)
                futures[future] = item
                pending.add(future)
            result.peak_in_flight = max(result.peak_in_flight, len(pending))
            remaining = None if ends_at is None else max(0.0, ends_at - clock())
            if stop is not None:
                remaining = STOP_POLL_S if remaining is None else min(remaining, STOP_POLL_S)
            done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                if _collect(future, futures[future], result) and on_result is not None:
                    _hand_over(on_result, result)
            if (pending or waiting) and ends_at is not None and clock() >= ends_at:
                break
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    unfinished = [futures[future] for future in pending] + waiting[::-1]
    if unfinished:
        result.interrupted = stop is not None and stop.is_set()
        result.deadline_hit = not result.interrupted
        result.failures["interrupted" if result.interrupted else "deadline"] += len(unfinished)
        result.abandoned = unfinished
    if unfinished and result.interrupted:
        log.warning("fan-out stopped with %d calls unfinished; abandoned", len(unfinished))
    elif unfinished:
        log.warning(
            "fan-out deadline of %.1f s passed with %d calls unfinished; abandoned",
            deadline_s,
            len(unfinished),
        )
    return result


def _hand_over(on_result: Callable[[T, R], None], result: FanOutResult[T, R]) -> None:
    """Run the caller's hook on the newest result; a hook that raises costs that item, not the rest."""
    item, value = result.results[-1]
    try:
        on_result(item, value)
    except Exception as exc:
        result.results.pop()
        result.latencies_s.pop()
        result.failures[failure_kind(exc)] += 1
        result.errors.append((item, exc))
        log.error("fan-out result hook for %r raised", item, exc_info=exc)


def _timed(fn: Callable[[T], R], item: T) -> tuple[R, float]:
    started = time.perf_counter()
    value = fn(item)
    return value, time.perf_counter() - started


def _collect(future: Future[tuple[R, float]], item: T, result: FanOutResult[T, R]) -> bool:
    """Record one finished call; True when it succeeded."""
    try:
        value, elapsed_s = future.result()
    except Exception as exc:  # every failure is counted, none escapes
        kind = failure_kind(exc)
        result.failures[kind] += 1
        result.errors.append((item, exc))
        if kind == "error":
            log.error("fan-out call for %r raised an unexpected error", item, exc_info=exc)
        return False
    result.results.append((item, value))
    result.latencies_s.append(elapsed_s)
    return True
