"""The warming thread's rule: the main pages are asked for at start, then once per settled data
version (not once per venue commit), and the next visitor finds the latest rows already read."""

import threading

import pytest

from funding_finder.store import Store
from funding_finder.web import create_app
from funding_finder.web.warm import Warmer, keep_warm
from web.test_persistence import STEP, T0, write


@pytest.fixture
def store(tmp_path):
    made = Store(str(tmp_path / "w.db"))
    cycle_id = made.start_cycle(T0)
    write(made, cycle_id, "binance", 0.0001, T0)
    write(made, cycle_id, "okx", 0.0003, T0)
    made.finish_cycle(cycle_id, T0, "complete")
    yield made
    made.close()


def test_pages_are_warmed_at_start_and_once_a_settled_version(store, monkeypatch):
    app = create_app(store)
    warmer = Warmer(app)
    asked = []
    get = warmer.client.get
    monkeypatch.setattr(warmer.client, "get", lambda page: asked.append(page) or get(page))
    assert warmer.step() is True and asked == ["/", "/rates", "/venues"]
    assert warmer.step() is False  # nothing new
    cycle_id = store.start_cycle(T0 + STEP)
    write(store, cycle_id, "binance", 0.0002, T0 + STEP)
    assert warmer.step() is False  # changed since the last look: the cycle may still be committing
    write(store, cycle_id, "okx", 0.0004, T0 + STEP)
    assert warmer.step() is False
    assert warmer.step() is True  # the same version two looks running: settled
    assert warmer.step() is False
    assert len(asked) == 6
    reader = app.extensions["funding_finder"]
    reads = []
    monkeypatch.setattr(store, "latest_rates", lambda *a: reads.append(a) or [])
    assert app.test_client().get("/rates").status_code == 200
    assert reads == []  # the visitor's page used what the warmer had read
    assert {r.funding_rate for r in reader.latest()} == {0.0002, 0.0004}


def test_the_thread_stops_with_its_event(store):
    stop = threading.Event()
    thread = keep_warm(create_app(store), stop, poll_s=0.01)
    assert thread.daemon and thread.is_alive()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
