"""`collect` thins snapshots older than --keep-full-days after its cycle, and keeps the new ones whole."""

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import text

from funding_finder.cli import main
from funding_finder.model import make_rate
from funding_finder.simulator import Simulator
from funding_finder.store import Store, VenueRun


def old_snapshot(observed_at: datetime, funding_rate: float):
    return make_rate(
        exchange="binance",
        native_symbol="BTCUSDT",
        listed_base="BTC",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=funding_rate,
        interval_hours=8,
        next_funding_time=observed_at + timedelta(hours=1),
        observed_at=observed_at,
    )


def test_collect_thins_old_snapshots_to_one_per_hour_and_keeps_the_cycle_whole(tmp_path):
    db = str(tmp_path / "funding.db")
    store = Store(db)
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    for step in range(24):  # two hours of 5-minute snapshots, ten days old
        observed_at = ten_days_ago + timedelta(minutes=5 * step)
        store.write_venue(
            store.start_cycle(observed_at),
            VenueRun("binance", "ok"),
            [old_snapshot(observed_at, step * 1e-6)],
        )
    store.close()
    with Simulator(latency_ms=0) as sim:
        result = CliRunner(env={"FUNDING_FINDER_OKX_URL": sim.venue_url("okx")}).invoke(
            main, ["collect", "--once", "--exchanges", "okx", "--db", db, "--keep-full-days", "7"]
        )
    assert result.exit_code == 0, result.output
    store = Store(db)
    with store.engine.connect() as conn:
        kept = conn.execute(
            text("SELECT funding_rate FROM funding_rates WHERE exchange = 'binance' ORDER BY observed_at_ms")
        ).scalars()
        okx_rows = conn.execute(text("SELECT count(*) FROM funding_rates WHERE exchange = 'okx'")).scalar()
        (run_rows,) = conn.execute(text("SELECT rows FROM venue_runs WHERE exchange = 'okx'")).scalars()
        assert list(kept) == [0.0, 12e-6]  # the first snapshot of each of the two hours
    assert okx_rows == run_rows > 0  # the new cycle is untouched
    store.close()
