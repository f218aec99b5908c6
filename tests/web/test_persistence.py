"""The dashboard's incremental persistence equals `top`'s full walk after every cycle, including rows
committed out of the order they were observed in, sign changes and a window shorter than the run."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from funding_finder.arbitrage import find_opportunities, with_persistence
from funding_finder.model import make_rate
from funding_finder.store import Store, VenueRun
from funding_finder.web.persistence import PersistenceCache

T0 = datetime(2026, 7, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)


def row(exchange, rate, at):
    return make_rate(
        exchange=exchange,
        native_symbol="BTCUSDT",
        listed_base="BTC",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=rate,
        interval_hours=8,
        next_funding_time=at + timedelta(hours=8),
        observed_at=at,
    )


def write(store, cycle_id, exchange, rate, at):
    store.write_venue(cycle_id, VenueRun(exchange, "ok", rows=1), [row(exchange, rate, at)])


def full_walk(store, window_start):
    """The pair and `top`'s walk of it; (None, None) while only one venue has a row."""
    pairs = find_opportunities(store.latest_rates(), hold_hours=168).opportunities
    if not pairs:
        return None, None
    (pair,) = pairs
    keys = {pair.long.key, pair.short.key}
    return pair, with_persistence(pair, store.rate_history(keys, window_start))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_persistence_is_the_full_walk_after_every_cycle(tmp_path, seed):
    draw = random.Random(seed)
    store = Store(str(tmp_path / "p.db"))
    cache = PersistenceCache(store)
    okx = 0.0001
    found_runs = set()
    for i in range(120):
        at = T0 + STEP * i
        cycle_id = store.start_cycle(at)
        late = draw.random() < 0.3  # okx answers first but commits after the cache was asked
        okx = okx if draw.random() < 0.85 else -okx  # the spread changes sign now and then
        write(store, cycle_id, "binance", 0.00002 * draw.random(), at + timedelta(seconds=1))
        if not late:
            write(store, cycle_id, "okx", okx, at)
        window_start = T0 + timedelta(hours=2) if i > 60 else T0  # later, a window shorter than the run
        pair, expected = full_walk(store, window_start)
        if pair is None:
            write(store, cycle_id, "okx", okx, at)
            continue
        (got,) = cache.apply([pair], window_start)
        assert (got.persistence_hours, got.positive_since) == (
            pytest.approx(expected.persistence_hours),
            expected.positive_since,
        ) or (expected.positive_since is not None and expected.positive_since - window_start < STEP), i
        found_runs.add(expected.persistence_hours > 1)
        if late:
            write(store, cycle_id, "okx", okx, at)
    assert found_runs == {True, False}
    store.close()
