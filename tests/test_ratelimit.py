import random
import threading
from collections import defaultdict

import pytest

from fakes import FakeClock, VirtualClock
from funding_finder.errors import DeadlineExceeded
from funding_finder.ratelimit import Limit, RateGate, _Booking

BINANCE_LIMITS = (
    Limit("REQUEST_WEIGHT", 2400, 60.0, costs={"premiumIndex": 10, "fundingInfo": 0, "exchangeInfo": 1}),
    Limit("fundingInfo+fundingRate", 500, 300.0, costs={"fundingInfo": 1, "fundingRate": 1}, default_cost=0),
)


def max_in_any_window(slots: list[tuple[float, int]], window_s: float) -> int:
    """The largest total cost inside any half-open window (t - window_s, t] ending at a slot."""
    ordered = sorted(slots)
    best = 0
    for _, (end, _) in enumerate(ordered):
        best = max(best, sum(cost for at, cost in ordered if end - window_s < at <= end))
    return best


def run_threads(gate: RateGate, calls: list[str], threads: int) -> list[tuple[str, float]]:
    taken: list[tuple[str, float]] = []
    lock = threading.Lock()
    queue = list(calls)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                endpoint = queue.pop()
            slot = gate.acquire(endpoint)
            with lock:
                taken.append((endpoint, slot))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return taken


def test_many_threads_never_exceed_binance_weight_and_shared_pool():
    clock = FakeClock()
    gate = RateGate("binance", BINANCE_LIMITS, clock=clock, sleep=clock.sleep)
    calls = ["premiumIndex"] * 400 + ["fundingInfo"] * 700 + ["exchangeInfo"] * 300 + ["fundingRate"] * 200
    taken = run_threads(gate, calls, threads=16)

    assert len(taken) == len(calls)
    for limit in BINANCE_LIMITS:
        charged = [(slot, limit.cost_of(endpoint)) for endpoint, slot in taken if limit.cost_of(endpoint) > 0]
        assert max_in_any_window(charged, limit.window_s) <= limit.capacity
    # the fundingInfo + fundingRate pool (900 calls, 450 usable per 5 min) needs a second window
    pool_slots = sorted(slot for endpoint, slot in taken if endpoint in ("fundingInfo", "fundingRate"))
    assert pool_slots[-1] - pool_slots[0] > 300


def test_margin_keeps_two_percent_of_capacity_and_at_least_one_unit_in_reserve():
    clock = FakeClock()
    gate = RateGate("okx", [Limit("funding-rate", 100, 2.0)], clock=clock, sleep=clock.sleep)
    slots = [gate.acquire("funding-rate") for _ in range(99)]
    assert slots[:98] == [1000.0] * 98
    assert slots[98] == pytest.approx(1000.0 + 2.0 + gate.window_pad_s)
    small = RateGate("okx", [Limit("funding-rate", 10, 2.0)], clock=clock, sleep=clock.sleep)
    assert [small.effective_capacity(limit) for limit in small.limits] == [9]


def test_per_instrument_scope_counts_each_instrument_apart():
    clock = FakeClock()
    limit = Limit("funding-rate", 10, 2.0, scope="instrument")
    gate = RateGate("okx", [limit], clock=clock, sleep=clock.sleep)
    by_instrument = defaultdict(list)
    for instrument in ("BTC-USDT-SWAP", "ETH-USDT-SWAP"):
        for _ in range(9):
            by_instrument[instrument].append(gate.acquire("funding-rate", instrument))
    assert by_instrument["BTC-USDT-SWAP"] == [1000.0] * 9
    assert by_instrument["ETH-USDT-SWAP"] == [1000.0] * 9
    assert gate.acquire("funding-rate", "BTC-USDT-SWAP") > 1002.0


def test_pause_holds_every_caller_until_it_ends():
    clock = FakeClock()
    gate = RateGate("okx", [Limit("ip", 100, 1.0)], clock=clock, sleep=clock.sleep)
    gate.pause_for(5.0)
    slot = gate.acquire("anything")
    assert slot == pytest.approx(1005.0)
    assert clock() >= 1005.0
    assert gate.stats.pauses == 1


def test_no_slot_before_deadline_raises_without_reserving():
    clock = FakeClock()
    gate = RateGate("mexc", [Limit("market", 2, 2.0)], margin=0.0, clock=clock, sleep=clock.sleep)
    gate.acquire("ticker")
    gate.acquire("ticker")
    with pytest.raises(DeadlineExceeded):
        gate.acquire("ticker", deadline=clock() + 1.0)
    assert gate.used("market") == 2


def test_usage_header_books_weight_counted_elsewhere():
    clock = FakeClock()
    gate = RateGate("binance", BINANCE_LIMITS, clock=clock, sleep=clock.sleep)
    gate.acquire("premiumIndex")
    gate.observe_usage("REQUEST_WEIGHT", 2340)
    assert gate.used("REQUEST_WEIGHT") == 2340
    # 2352 usable (2 % margin): one more premiumIndex fits, the next waits for the window
    assert gate.acquire("premiumIndex") == 1000.0
    assert gate.acquire("premiumIndex") > 1060.0


def test_zero_cost_endpoints_are_not_charged():
    clock = FakeClock()
    gate = RateGate("binance", BINANCE_LIMITS, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        gate.acquire("fundingInfo")
    assert gate.used("REQUEST_WEIGHT") == 0
    assert gate.used("fundingInfo+fundingRate") == 50


def test_a_call_in_flight_holds_its_unit_until_answered_and_then_counts_from_its_answer():
    clock = FakeClock()
    gate = RateGate(
        "mexc", [Limit("market", 1, 1.0)], margin=0.0, window_pad_s=0.0, clock=clock, sleep=clock.sleep
    )
    sent: dict[str, float] = {}

    def second_call() -> None:
        sent["second"] = gate.acquire("ticker")

    with gate.call("ticker") as first_sent:
        worker = threading.Thread(target=second_call)
        worker.start()
        while clock() < first_sent + 3:  # the second caller keeps waking and finding the unit taken
            threading.Event().wait(0.001)
        answered_at = clock()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert first_sent == 1000.0 and answered_at >= 1003.0
    # the venue may have counted the first call as late as its answer: a full window after that
    assert sent["second"] >= answered_at + 1.0


def test_a_failed_call_is_booked_at_its_failure_time():
    clock = FakeClock()
    gate = RateGate(
        "mexc", [Limit("market", 1, 1.0)], margin=0.0, window_pad_s=0.0, clock=clock, sleep=clock.sleep
    )
    with pytest.raises(ConnectionError), gate.call("ticker"):
        clock.sleep(0.4)  # the request was sent and the connection dropped 0.4 s later
        raise ConnectionError("reset by peer")
    assert gate.acquire("ticker") == pytest.approx(1001.4)


def test_a_call_given_up_while_waiting_frees_its_slot():
    clock = FakeClock()

    def sleep_through_a_429(seconds: float) -> None:  # the venue pauses the gate during the wait
        if not gate.paused_until:
            gate.pause_for(30.0)
        clock.sleep(seconds)

    gate = RateGate(
        "mexc",
        [Limit("market", 1, 1.0)],
        margin=0.0,
        window_pad_s=0.0,
        clock=clock,
        sleep=sleep_through_a_429,
    )
    assert gate.acquire("ticker") == 1000.0
    with pytest.raises(DeadlineExceeded, match="paused past the deadline"):
        gate.acquire("ticker", deadline=1005.0)
    assert gate.used("market") == 0 and clock() < 1031.0
    # nothing of the abandoned call is left: the next one leaves as soon as the pause ends
    assert gate.acquire("ticker") == 1030.0


def test_a_caller_that_oversleeps_its_slot_keeps_its_booking_and_nothing_is_overbooked():
    clock = FakeClock()
    reserved, go = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is worker:
            reserved.set()
            go.wait(10)
        clock.sleep(seconds)

    gate = RateGate("mexc", [Limit("market", 1, 1.0)], margin=0.0, window_pad_s=0.0, clock=clock, sleep=sleep)
    assert gate.acquire("ticker") == 1000.0
    sent: list[float] = []
    worker = threading.Thread(target=lambda: sent.append(gate.acquire("ticker")))
    worker.start()
    assert reserved.wait(10)  # the worker holds the 1001 slot and sleeps
    clock.now += 5.0  # the machine stalls: the worker oversleeps its slot by 4 s
    main_sent = gate.acquire("ticker")
    go.set()
    worker.join(10)
    third = gate.acquire("ticker")
    assert main_sent == 1005.0 and sent == [1006.0]
    assert third >= 1007.0  # the worker's call was booked, so the third waits a full window after it


def test_usage_reports_each_limits_busiest_bucket_against_its_published_capacity():
    clock = FakeClock()
    limits = [
        Limit("ip", 100, 60.0, costs={"rates": 10, "list": 1}),
        Limit("per-instrument", 10, 2.0, scope="instrument"),
        Limit("unused", 5, 1.0, costs={"history": 1}, default_cost=0),
    ]
    gate = RateGate("v", limits, clock=clock, sleep=clock.sleep)
    gate.acquire("rates", "A")
    gate.acquire("rates", "A")
    gate.acquire("list", "B")
    assert gate.usage() == {"ip": (21, 100), "per-instrument": (2, 10), "unused": (0, 5)}
    clock.sleep(3.0)  # the 2 s window has passed, the minute has not
    assert gate.usage() == {"ip": (21, 100), "per-instrument": (0, 10), "unused": (0, 5)}


def run_virtual(gate: RateGate, clock: VirtualClock, callers: list[tuple[float, float]]) -> list[dict]:
    """One thread per (ask_at, round_trip_s), in virtual time: it sleeps until ask_at, makes one call
    through `gate.call` that takes round_trip_s, and records when it asked, was sent and answered."""
    records: list[dict] = []
    lock = threading.Lock()

    def caller(index: int, ask_at: float, round_trip_s: float) -> None:
        try:
            clock.sleep(ask_at - clock())
            with gate.call("ticker") as sent_at:
                clock.sleep(round_trip_s)
            with lock:
                records.append({"index": index, "asked": ask_at, "sent": sent_at, "answered": clock()})
        finally:
            clock.done()

    threads = [
        threading.Thread(target=caller, args=(i, at, rtt), name=f"caller-{i}")
        for i, (at, rtt) in enumerate(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    return sorted(records, key=lambda record: record["index"])


def counted_together_at_most(records: list[dict], capacity: int, window_s: float) -> None:
    """The venue never counts more than `capacity`, wherever between its send and its answer each
    call arrived: at every send, the calls sent before it whose answer is less than a window old (or
    still to come) are at most capacity − 1."""
    for call in records:
        others = [
            other
            for other in records
            if other is not call
            and other["sent"] <= call["sent"]
            and other["answered"] > call["sent"] - window_s
        ]
        assert len(others) + 1 <= capacity, (call, others)


def test_a_waiter_keeps_its_turn_when_the_call_ahead_answers_late():
    """B asks while A is in flight, C asks after A answered: B goes a window after A's answer, C a
    window after B's, and no slot is left unused between them (the caller whose slot turned out too
    early keeps its place instead of booking again behind C)."""
    clock = VirtualClock(participants=3)
    gate = RateGate(
        "deribit",
        [Limit("get_instruments", 1, 1.0)],
        margin=0.0,
        window_pad_s=0.0,
        clock=clock,
        sleep=clock.sleep,
    )
    a, b, c = run_virtual(gate, clock, [(1000.0, 0.3), (1000.1, 0.2), (1000.35, 0.2)])
    assert (a["sent"], a["answered"]) == (1000.0, pytest.approx(1000.3))
    assert b["sent"] == pytest.approx(1001.3)  # A's answer + the window
    assert c["sent"] == pytest.approx(1002.5)  # B's answer + the window
    counted_together_at_most([a, b, c], 1, 1.0)
    # its ask, the slot assumed while A was in flight, the true slot, its round trip
    assert clock.sleeps["caller-1"] <= 4


def test_many_threads_get_spaced_slots_in_waves_of_the_capacity_and_never_a_herd():
    """12 callers at once on 4 per s, each call 0.2 s long: 4 leave at once (the window allows it),
    the next 4 each as one unit leaves the window (a window after each answer), and so on; every
    caller sleeps a bounded number of times (no wake-and-retry storm at a window edge)."""
    clock = VirtualClock(participants=12)
    gate = RateGate("v", [Limit("ip", 4, 1.0)], margin=0.0, window_pad_s=0.0, clock=clock, sleep=clock.sleep)
    records = run_virtual(gate, clock, [(1000.0, 0.2)] * 12)
    sends = sorted(record["sent"] for record in records)
    assert sends == pytest.approx([1000.0] * 4 + [1001.2] * 4 + [1002.4] * 4)
    counted_together_at_most(records, 4, 1.0)
    assert max(clock.sleeps.values()) <= 4


def test_a_quick_call_takes_a_free_slot_while_an_earlier_caller_waits_for_another_limit():
    """Deribit: a list waits for the 1-per-second get_instruments limit; a book summary asked after it
    shares only the credits pool, where there is room, and leaves at once instead of queueing."""
    clock = VirtualClock(participants=3)
    limits = [
        Limit("credits", 10_000, 1.0, default_cost=500),
        Limit("get_instruments", 1, 1.0, costs={"list": 1}, default_cost=0),
    ]
    gate = RateGate("deribit", limits, margin=0.0, window_pad_s=0.0, clock=clock, sleep=clock.sleep)
    sent: dict[str, float] = {}

    def call(name: str, ask_at: float) -> None:
        try:
            clock.sleep(ask_at - clock())
            with gate.call(name) as at:
                sent[f"{name}@{ask_at}"] = at
                clock.sleep(0.2)
        finally:
            clock.done()

    threads = [
        threading.Thread(target=call, args=args)
        for args in (("list", 1000.0), ("list", 1000.05), ("summary", 1000.1))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sent == {
        "list@1000.0": 1000.0,
        "list@1000.05": pytest.approx(1001.2),
        "summary@1000.1": pytest.approx(1000.1),
    }


def test_a_later_call_never_crowds_the_window_of_an_earlier_reservation():
    clock = FakeClock(1000.2)
    gate = RateGate("v", [Limit("ip", 2, 1.0)], margin=0.0, window_pad_s=0.0, clock=clock, sleep=clock.sleep)
    bucket = gate._charged("x", None)[0][0]
    # a call answered at 1000.0; an earlier caller's reservation waits (for another limit) at 1000.5
    earlier = _Booking(1000.5, 1, reserved=True, seq=1)
    bucket.bookings += [_Booking(1000.0, 1), earlier]
    later = _Booking(1000.2, 1, reserved=True, seq=2)
    # now there is room in the window ending now, but the one ending at 1000.5 would hold three:
    # the later caller goes when the 1000.0 call has left the window
    assert bucket.earliest(later, 1000.2, 1000.2) == pytest.approx(1001.0)
    # the earlier caller never counts the later one's reservation
    bucket.bookings.append(later)
    later.at = 1000.4
    assert bucket.earliest(earlier, 1000.2, 1000.2) == pytest.approx(1000.2)


def test_pace_and_start_order_put_the_paced_calls_between_the_quick_ones():
    limits = [
        Limit("credits", 10_000, 1.0, default_cost=500),
        Limit("get_instruments", 1, 1.0, costs={"list": 1}, default_cost=0),
    ]
    gate = RateGate("deribit", limits, margin=0.1, window_pad_s=0.05)
    assert gate.pace("list") == (pytest.approx(1.05), ("get_instruments", ""))
    assert gate.pace("summary")[0] == pytest.approx(1.05 * 500 / 9000)
    calls = [("summary", None)] * 3 + [("list", None)] * 3
    assert gate.start_order(calls) == [3, 0, 1, 2, 4, 5]


def test_random_asks_and_round_trips_keep_the_guarantee_and_the_order_of_asking():
    """30 callers asking at random times with random round trips (seeded) on 3 per s: the venue can
    never count 4 together wherever each call arrived, and the calls leave in the order they asked."""
    rng = random.Random(7)
    asks = sorted(1000.0 + rng.uniform(0.0, 6.0) for _ in range(30))
    callers = [(at, rng.uniform(0.05, 0.8)) for at in asks]
    clock = VirtualClock(participants=len(callers))
    gate = RateGate("v", [Limit("ip", 3, 1.0)], margin=0.0, window_pad_s=0.0, clock=clock, sleep=clock.sleep)
    records = run_virtual(gate, clock, callers)
    counted_together_at_most(records, 3, 1.0)
    sends = [record["sent"] for record in records]  # in the order of asking
    assert sends == sorted(sends)
    assert all(record["sent"] >= record["asked"] for record in records)
