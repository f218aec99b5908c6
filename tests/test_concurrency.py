import math
import threading

import pytest

from fakes import FakeClock
from funding_finder.concurrency import DEFAULT_LATENCY_S, InFlightLimit, allowed_rate_per_s
from funding_finder.exchanges import cryptocom, deribit, krakenfutures
from funding_finder.ratelimit import Limit


def test_the_limit_starts_from_rate_times_latency_with_its_margin():
    limit = InFlightLimit(20.0, 16, latency_s=0.2, margin=0.25, clock=FakeClock())
    assert limit.limit == 5.0  # 20 calls/s × 0.2 s × 1.25
    assert limit.allowed() == 5
    # a fraction rounds up: 9 calls/s × 0.15 s × 1.25 = 1.69 → 2
    assert InFlightLimit(9.0, 16, latency_s=0.15, margin=0.25).allowed() == 2


def test_before_any_answer_the_latency_is_a_guess_replaced_by_the_first_round_trip():
    limit = InFlightLimit(40.0, 32, margin=0.0, clock=FakeClock())
    assert limit.latency_s == DEFAULT_LATENCY_S and limit.allowed() == 10  # 40 × 0.25
    limit.observe(0.1, waited_s=0.5)  # waited at the gate: no growth, but the start follows the latency
    assert limit.latency_s == 0.1 and limit.limit == 4.0  # 40 × 0.1
    limit.observe(0.2, waited_s=0.5)
    assert limit.latency_s == pytest.approx(0.1 + 0.2 * (0.2 - 0.1))  # a moving average from then on
    assert limit.limit == 4.0


def test_it_grows_by_one_per_round_of_successful_answers():
    limit = InFlightLimit(20.0, 16, latency_s=0.2, margin=0.25, clock=FakeClock())
    before = limit.limit
    for _ in range(5):  # one round: as many answers as calls in flight
        previous = limit.limit
        limit.observe(0.2)
        assert limit.limit == pytest.approx(previous + 1 / previous)
    assert 5.9 < limit.limit < 6.0 and limit.allowed() == 5
    limit.observe(0.2)
    assert limit.allowed() == 6 and limit.limit - before < 1.2


def test_answers_that_waited_at_the_gate_or_failed_do_not_grow_it():
    limit = InFlightLimit(20.0, 16, latency_s=0.2, margin=0.25, clock=FakeClock())
    limit.observe(0.2, waited_s=0.3)
    limit.observe(0.2, succeeded=False)
    limit.observe(None, succeeded=False)  # a connection failure: no round trip
    assert limit.limit == 5.0


def test_a_429_halves_it_once_per_round_trip_and_never_below_one():
    clock = FakeClock()
    limit = InFlightLimit(40.0, 16, latency_s=0.2, margin=0.0, clock=clock)
    assert limit.limit == 8.0
    limit.observe(0.2, rate_limited=True, succeeded=False)
    assert limit.limit == 4.0
    limit.observe(0.2, rate_limited=True, succeeded=False)  # answered together with the first: same signal
    assert limit.limit == 4.0
    for expected in (2.0, 1.0, 1.0, 1.0):
        clock.sleep(0.25)
        limit.observe(0.2, rate_limited=True, succeeded=False)
        assert limit.limit == expected
    assert limit.allowed() == 1


def test_it_never_exceeds_the_pool_of_the_session_even_from_many_threads():
    limit = InFlightLimit(1000.0, 6, latency_s=0.5, clock=FakeClock())
    assert limit.limit == 6.0  # 1000 × 0.5 × 1.25 would be 625

    def succeed() -> None:
        for _ in range(500):
            limit.observe(0.5)

    threads = [threading.Thread(target=succeed) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limit.limit == 6.0 and limit.allowed() == 6


def test_a_venue_without_a_limit_on_its_calls_gets_its_whole_pool():
    limit = InFlightLimit(math.inf, 4, latency_s=0.2)
    assert limit.allowed() == 4


def test_allowed_rate_is_the_fastest_endpoint_under_its_strictest_limit():
    names = [endpoint.name for endpoint in deribit.SPEC.endpoints]
    # book summaries: 9800 usable credits a second at 500 a call; the lists' own 1 per s is slower
    assert allowed_rate_per_s(deribit.SPEC.limits, names) == pytest.approx(19.6)
    lists = [name for name in names if name.startswith("instruments")]
    assert allowed_rate_per_s(deribit.SPEC.limits, lists) == pytest.approx(1.0)  # 1 × 0.98: at least one unit
    kraken = [endpoint.name for endpoint in krakenfutures.SPEC.endpoints]
    assert allowed_rate_per_s(krakenfutures.SPEC.limits, kraken) == pytest.approx(1.0)
    assert allowed_rate_per_s([Limit("other", 10, 1.0, costs={"x": 1}, default_cost=0)], ["y"]) == math.inf


def test_cryptocom_per_contract_calls_start_near_the_hand_set_figure():
    rate = allowed_rate_per_s(cryptocom.SPEC.limits, [e.name for e in cryptocom.SPEC.endpoints])
    limit = InFlightLimit(rate, cryptocom.SPEC.workers, latency_s=0.15)
    # the module's comment: 90 calls/s usable × ~150 ms round trip ≈ 14 calls in flight (+ margin, pool 16)
    assert limit.allowed() == min(cryptocom.SPEC.workers, math.ceil(rate * 0.15 * 1.25))
    assert 14 <= limit.allowed() <= 16
