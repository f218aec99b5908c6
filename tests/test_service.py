"""The service schedule on a fake wall clock: aligned slots, overruns, stop, skipped errors; the web
server thread starts and stops."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from flask import Flask

from funding_finder.service import Schedule, WebServer, next_start
from funding_finder.store import StoreError


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "every_min", "expected"),
    [
        ("2026-12-04 10:02:13", 5, "2026-12-04 10:05:00"),
        ("2026-12-04 10:05:00", 5, "2026-12-04 10:10:00"),  # strictly after
        ("2026-12-04 10:59:59", 5, "2026-12-04 11:00:00"),
        ("2026-12-04 10:57:00", 7, "2026-12-04 11:00:00"),  # 7 min: :56, then the hour restarts
        ("2026-12-04 10:55:00", 7, "2026-12-04 10:56:00"),
        ("2026-12-04 10:00:00.5", 0.5, "2026-12-04 10:00:30"),
        ("2026-12-04 10:20:00", 90, "2026-12-04 10:30:00"),  # from midnight: 0:00, 1:30, ..., 9:00, 10:30
        ("2026-12-04 23:59:00", 600, "2026-12-05 00:00:00"),
        ("2026-12-04 23:59:00", 1440, "2026-12-05 00:00:00"),
    ],
)
def test_next_start_is_the_next_multiple_past_the_hour(now: str, every_min: float, expected: str) -> None:
    assert next_start(at(now), every_min) == at(expected)


def test_next_start_refuses_a_bad_period() -> None:
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            next_start(at("2026-12-04 10:00:00"), bad)


class FakeWall:
    """A UTC wall clock that moves only when waited on, or when a cycle 'takes' time."""

    def __init__(self, start: str, stop: threading.Event) -> None:
        self.now = at(start)
        self.stop = stop
        self.waits: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)
        return self.stop.is_set()


def scheduled(start: str, every_min: float, durations_s: list[float], **kw: object) -> tuple[list, Schedule]:
    """Run cycles lasting `durations_s` in turn; the loop stops after the last one."""
    stop = threading.Event()
    wall = FakeWall(start, stop)
    starts: list[datetime] = []

    def cycle() -> None:
        starts.append(wall())
        wall.now += timedelta(seconds=durations_s[len(starts) - 1])
        if len(starts) == len(durations_s):
            stop.set()

    schedule = Schedule(cycle, every_min, stop, now=wall, wait=wall.wait, **kw)  # type: ignore[arg-type]
    schedule.run()
    return starts, schedule


def test_cycles_run_at_start_then_on_the_slots() -> None:
    starts, schedule = scheduled("2026-12-04 10:02:13", 5, [20.0, 30.0, 10.0, 45.0])
    assert starts == [
        at("2026-12-04 10:02:13"),
        at("2026-12-04 10:05:00"),
        at("2026-12-04 10:10:00"),
        at("2026-12-04 10:15:00"),
    ]
    assert schedule.state.cycles == 4
    assert schedule.state.skipped_slots == 0
    assert not schedule.state.running


def test_an_overrunning_cycle_skips_to_the_next_free_slot() -> None:
    # the second cycle (10:05) lasts 11 min: the 10:10 and 10:15 slots pass, the next is 10:20
    starts, schedule = scheduled("2026-12-04 10:04:00", 5, [10.0, 660.0, 5.0])
    assert starts == [at("2026-12-04 10:04:00"), at("2026-12-04 10:05:00"), at("2026-12-04 10:20:00")]
    assert schedule.state.skipped_slots == 2


def test_a_wait_that_wakes_early_waits_again() -> None:
    stop = threading.Event()
    wall = FakeWall("2026-12-04 10:04:00", stop)
    real_wait = wall.wait
    starts: list[datetime] = []

    def early_wait(seconds: float) -> bool:  # wakes 1 ms short, as a monotonic wait may
        return real_wait(max(seconds - 0.001, 0.0005))

    def cycle() -> None:
        starts.append(wall())
        if len(starts) == 2:
            stop.set()

    Schedule(cycle, 5, stop, now=wall, wait=early_wait).run()
    assert starts[1] >= at("2026-12-04 10:05:00")
    assert starts[1] < at("2026-12-04 10:05:00.01")


def test_stop_during_the_wait_ends_the_loop_without_another_cycle() -> None:
    stop = threading.Event()
    wall = FakeWall("2026-12-04 10:04:00", stop)
    runs = []

    def stopping_wait(seconds: float) -> bool:
        stop.set()
        return True

    Schedule(lambda: runs.append(wall()), 5, stop, now=wall, wait=stopping_wait).run()
    assert runs == [at("2026-12-04 10:04:00")]


def test_a_store_error_after_start_costs_one_cycle_only() -> None:
    stop = threading.Event()
    wall = FakeWall("2026-12-04 10:00:00", stop)
    calls = []

    def cycle() -> None:
        calls.append(wall())
        if len(calls) == 2:
            raise StoreError("database is locked")
        if len(calls) == 3:
            stop.set()

    schedule = Schedule(cycle, 5, stop, now=wall, wait=wall.wait, skip=(StoreError,))
    schedule.run()
    assert calls == [at("2026-12-04 10:00:00"), at("2026-12-04 10:05:00"), at("2026-12-04 10:10:00")]
    assert schedule.state.failed_cycles == 1
    assert schedule.state.last_finished == at("2026-12-04 10:10:00")


def test_a_store_error_at_start_up_propagates() -> None:
    stop = threading.Event()
    wall = FakeWall("2026-12-04 10:00:00", stop)

    def cycle() -> None:
        raise StoreError("cannot write")

    schedule = Schedule(cycle, 5, stop, now=wall, wait=wall.wait, skip=(StoreError,))
    with pytest.raises(StoreError):
        schedule.run()
    assert not schedule.state.running
    assert wall.waits == []


def test_web_server_serves_then_stops() -> None:
    app = Flask("t")
    app.add_url_rule("/ping", "ping", lambda: "pong")
    server = WebServer(app, "127.0.0.1", 0).start()
    try:
        assert server.port > 0
        answer = requests.get(f"{server.url}/ping", timeout=5)
        assert (answer.status_code, answer.text) == (200, "pong")
    finally:
        server.stop()
    assert not server._thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/ping", timeout=2)


def test_web_server_port_in_use_fails_at_construction() -> None:
    app = Flask("t")
    first = WebServer(app, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            WebServer(app, "127.0.0.1", first.port)
    finally:
        first.stop()
