import threading
import time

from funding_finder.errors import CallTimeout, HttpServerError
from funding_finder.fanout import fan_out


def test_results_carry_their_items_and_failures_are_counted_by_kind():
    def call(item: int) -> int:
        if item == 3:
            raise CallTimeout("okx", "funding-rate", "slow")
        if item == 5:
            raise HttpServerError("okx", "funding-rate", "HTTP 503")
        if item == 7:
            raise RuntimeError("a bug")
        return item * 10

    result = fan_out(range(10), call, workers=4)
    assert sorted(result.results) == [(i, i * 10) for i in (0, 1, 2, 4, 6, 8, 9)]
    assert result.failures == {"timeout": 1, "http_5xx": 1, "error": 1}
    assert len(result.latencies_s) == 7
    assert {item for item, _ in result.errors} == {3, 5, 7}


def test_workers_bound_the_calls_in_flight():
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def call(_: int) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1

    fan_out(range(40), call, workers=3)
    assert peak == 3


def test_deadline_abandons_running_calls_and_discards_late_results():
    release = threading.Event()
    late = []

    def call(item: int) -> int:
        if item == 0:
            release.wait(5)
            late.append(item)
        return item

    started = time.monotonic()
    result = fan_out([0, 1, 2], call, workers=3, deadline_s=0.2)
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 2.0
    assert sorted(result.results) == [(1, 1), (2, 2)]
    assert result.failures == {"deadline": 1}
    assert result.deadline_hit and result.abandoned == [0]


def test_on_result_runs_in_the_callers_thread():
    caller = threading.current_thread()
    seen = []
    fan_out(
        [1, 2],
        lambda item: item,
        workers=2,
        on_result=lambda item, value: seen.append((item, value, threading.current_thread() is caller)),
    )
    assert sorted(seen) == [(1, 1, True), (2, 2, True)]


def test_empty_input_returns_empty_result():
    result = fan_out([], lambda item: item, workers=4)
    assert result.results == [] and not result.failures


def test_a_result_hook_that_raises_costs_only_its_item():
    kept = []

    def hook(item: int, value: int) -> None:
        if item == 2:
            raise ValueError("cannot store this one")
        kept.append(item)

    result = fan_out(range(4), lambda item: item, workers=2, on_result=hook)
    assert sorted(kept) == [0, 1, 3]
    assert sorted(item for item, _ in result.results) == [0, 1, 3]
    assert result.failures == {"error": 1} and [item for item, _ in result.errors] == [2]


def test_a_workers_function_is_read_before_every_start_and_bounds_the_calls_running():
    """The bound follows the function as it changes (an adaptive in-flight limit): 2 for the first
    six starts, then 4; each call waits until as many are running as the bound allows (or the items
    run out), so the peak shows the bound is both reached and never passed."""
    running, peak, started = 0, 0, 0
    peaks_by_start: list[int] = []
    changed = threading.Condition()

    def bound() -> int:
        return 2 if started < 6 else 4

    def call(item: int) -> int:
        nonlocal running, peak, started
        with changed:
            running += 1
            started += 1
            peak = max(peak, running)
            peaks_by_start.append(running)
            changed.notify_all()
            # hold until the bound is filled, or no item is left to start (a guard, not a timing)
            changed.wait_for(lambda: running >= min(bound(), 20 - started + running), timeout=5)
            running -= 1
            changed.notify_all()
        return item

    result = fan_out(range(20), call, workers=bound)
    assert sorted(item for item, _ in result.results) == list(range(20))
    assert max(peaks_by_start[:6]) <= 2
    assert peak == 4 and result.peak_in_flight == 4


def test_items_not_started_at_the_deadline_are_abandoned_and_counted():
    release = threading.Event()
    ticks = iter([0.0] + [100.0] * 50)  # the deadline has passed at the first look

    def call(item: int) -> int:
        release.wait(5)
        return item

    try:
        result = fan_out(range(5), call, workers=lambda: 1, deadline_s=10.0, clock=lambda: next(ticks))
    finally:
        release.set()
    assert result.deadline_hit and result.failures == {"deadline": 5}
    assert result.abandoned == [0, 1, 2, 3, 4]  # the running one first, then those never started
