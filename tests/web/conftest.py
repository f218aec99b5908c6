"""A database filled by one simulator cycle of every venue and a Binance backfill of BTCUSDT, plus a
hostile cycle: two contracts whose symbol and asset are `<script>` and a venue error that is HTML.

Values the tests trace to the recordings (see also tests/test_cli_top.py):
- OKX BTC-USDT-SWAP: `fundingRate` 0.0001, 8 h (`nextFundingTime − fundingTime`), settles
  2026-09-19T16:00:00Z; flagged `stale` (a replayed recording).
- BTC's best pair: long Coinbase International BTC-PERP (-0.008291 per 1 h), short Kraken PI_XBTUSD.
- Binance BTCUSDT settled 2026-06-13T00:00:00Z at 0.00005357 (mark 63546.9), from
  `fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260713.json`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from funding_finder.cli import main
from funding_finder.exchanges import VENUES
from funding_finder.model import make_rate
from funding_finder.simulator import Simulator
from funding_finder.store import Store, VenueRun
from funding_finder.web import create_app

HOSTILE = '<script>alert("ff")</script>'
"""The hostile symbol and asset: raw, it would run as a script in any page that did not escape it."""
HOSTILE_ERROR = "<img src=x onerror=alert(1)>"
HOSTILE_RATES = {"binance": -0.0002, "okx": 0.0005}
"""Funding per 8 h of the two hostile contracts, so that they make a pair (long binance, short okx)."""


def hostile_cycle(store: Store, now: datetime) -> None:
    cycle_id = store.start_cycle(now)
    for exchange, rate in HOSTILE_RATES.items():
        row = make_rate(
            exchange=exchange,
            native_symbol=HOSTILE + "USDT",
            listed_base=HOSTILE,
            quote="USDT",
            settle="USDT",
            contract_type="linear",
            funding_rate=rate,
            interval_hours=8,
            next_funding_time=now + timedelta(hours=3),
            observed_at=now,
            mark_price=1.0,
            open_interest_usd=5e6,
        )
        run = VenueRun(
            exchange, "partial", requests=1, rows=1, failures={"bad_payload": 1}, error=HOSTILE_ERROR
        )
        store.write_venue(cycle_id, run, [row])
    store.finish_cycle(cycle_id, now, "partial")


@pytest.fixture(scope="session")
def web_db(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("web") / "funding.db")
    with Simulator(latency_ms=0) as sim:
        env = {f"FUNDING_FINDER_{venue_id.upper()}_URL": sim.venue_url(venue_id) for venue_id in VENUES}
        runner = CliRunner(env=env)
        collected = runner.invoke(main, ["collect", "--once", "--db", db])
        assert collected.exit_code == 0, collected.output
        backfilled = runner.invoke(
            main, ["backfill", "--db", db, "--exchanges", "binance", "--days", "400", "--symbols", "BTCUSDT"]
        )
        assert backfilled.exit_code == 0, backfilled.output
    store = Store(db)
    hostile_cycle(store, datetime.now(UTC))
    store.close()
    return db


@pytest.fixture(scope="session")
def app(web_db):
    return create_app(web_db, TESTING=True)


@pytest.fixture
def client(app):
    return app.test_client()
