"""Cross-venue carry on hand-checked rows: every expected number is worked out in the comment beside it."""

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from funding_finder.arbitrage import (
    DEFAULT_TAKER_FEE,
    TAKER_FEES,
    Filters,
    best_pair,
    find_opportunities,
    flat_columns,
    persistence,
    price_gap,
    taker_fee,
    with_persistence,
)
from funding_finder.model import make_rate, mark_not_live
from funding_finder.store import Store, VenueRun, database_url, metadata
from test_store import PG_URL, pg_available

NOW = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)
NEXT = datetime(2026, 12, 4, 16, tzinfo=UTC)  # after NOW: rows are not stale


def row(exchange, native, rate, interval, *, base="BTC", observed_at=NOW, **changes):
    fields = dict(
        exchange=exchange,
        native_symbol=native,
        listed_base=base,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=rate,
        interval_hours=interval,
        next_funding_time=NEXT,
        observed_at=observed_at,
        mark_price=60000.0,
        open_interest_usd=5e6,
        volume_24h_usd=1e7,
    )
    fields.update(changes)
    return make_rate(**fields)


def mixed_intervals():
    """BTC on 1 h, 4 h and 8 h venues, chosen so that ranking by the raw rate would pick other legs."""
    return [
        row("binance", "BTCUSDT", 0.0003, 8),  # 0.0003 / 8 = 0.0000375 per hour: highest raw rate
        row("hyperliquid", "BTC", 0.00006, 1),  # 0.00006 / 1 = 0.00006 per hour: highest per hour
        row("bybit", "BTCUSDT", 0.0002, 4),  # 0.0002 / 4 = 0.00005 per hour
        row("okx", "BTC-USDT-SWAP", -0.0001, 8),  # -0.0001 / 8 = -0.0000125 per hour: lowest raw rate
        row("dydx", "BTC-USD", -0.00005, 1),  # -0.00005 / 1 = -0.00005 per hour: lowest per hour
    ]


def test_legs_are_chosen_per_hour_across_1h_4h_and_8h_venues():
    (found,) = find_opportunities(mixed_intervals(), hold_hours=24).opportunities
    assert (found.long.exchange, found.short.exchange) == ("dydx", "hyperliquid")
    # spread per hour = 0.00006 − (−0.00005) = 0.00011
    assert found.spread_per_hour == pytest.approx(0.00011)
    assert found.spread_per_8h == pytest.approx(0.00088)  # 0.00011 × 8
    assert found.apr == pytest.approx(0.9636)  # 0.00011 × 8760
    assert (found.long.interval_hours, found.short.interval_hours) == (1, 1)
    assert found.long.next_funding_time == NEXT and found.short.open_interest_usd == 5e6


def test_fees_break_even_and_net_apr_over_the_holding_period():
    (found,) = find_opportunities(mixed_intervals(), hold_hours=24).opportunities
    # dYdX 0.05 % and Hyperliquid 0.045 % taker, each paid opening and closing: 2 × (0.0005 + 0.00045)
    assert (found.long.taker_fee, found.short.taker_fee) == (0.0005, 0.00045)
    assert found.fees == pytest.approx(0.0019)
    assert found.break_even_hours == pytest.approx(17.272727, rel=1e-6)  # 0.0019 / 0.00011
    # 24 h: (0.00011 × 24 − 0.0019) / 24 × 8760 = 0.00074 / 24 × 8760 = 0.2701
    assert found.net_apr == pytest.approx(0.2701)
    (short_hold,) = find_opportunities(mixed_intervals(), hold_hours=8).opportunities
    # 8 h, before break-even: (0.00088 − 0.0019) / 8 × 8760 = −0.00102 × 1095 = −1.1169
    assert short_hold.net_apr == pytest.approx(-1.1169)
    assert short_hold.apr == found.apr  # the gross figure does not depend on the holding period


def test_fee_overrides_and_the_conservative_default_for_unconfirmed_venues():
    assert taker_fee("binance") == 0.0005 and taker_fee("bybit") == 0.00055
    assert taker_fee("coinbaseintl") == DEFAULT_TAKER_FEE == 0.001  # not confirmed: the stated default
    assert taker_fee("ccxt:okx") == 0.001
    assert taker_fee("okx", {"okx": 0.0002}) == 0.0002
    assert max(TAKER_FEES.values()) < DEFAULT_TAKER_FEE
    rows = [row("coinbaseintl", "BTC-PERP", -0.0001, 1), row("okx", "BTC-USDT-SWAP", 0.0001, 8)]
    (found,) = find_opportunities(rows, hold_hours=100, fees={"okx": 0.0}).opportunities
    assert found.fees == pytest.approx(0.002)  # 2 × (0.001 + 0)
    # spread 0.0000125 − (−0.0001) = 0.0001125 per hour; 0.002 / 0.0001125 = 17.78 h
    assert found.break_even_hours == pytest.approx(17.777778, rel=1e-6)


def test_a_zero_spread_never_breaks_even_and_loses_the_fees():
    rows = [row("okx", "BTC-USDT-SWAP", 0.0001, 8), row("binance", "BTCUSDT", 0.0001, 8)]
    (found,) = find_opportunities(rows, hold_hours=10).opportunities
    assert found.spread_per_hour == 0 and found.break_even_hours is None
    assert found.net_apr == pytest.approx(-1.752)  # −2 × (0.0005 + 0.0005) / 10 × 8760


def test_an_inverse_leg_uses_its_rate_as_a_fraction_of_notional_and_can_be_left_out():
    inverse = row(
        "binance",
        "BTCUSD_PERP",
        0.0003,
        8,
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        mark_price=60030.0,
    )
    linear = row("okx", "BTC-USDT-SWAP", 0.0001, 8)
    (found,) = find_opportunities([inverse, linear], hold_hours=24).opportunities
    assert (found.short.exchange, found.short.contract_type, found.short.settle) == (
        "binance",
        "inverse",
        "BTC",
    )
    # no price conversion: (0.0003 − 0.0001) / 8 = 0.000025 per hour, as for two linear legs
    assert found.spread_per_hour == pytest.approx(0.000025)
    assert found.apr == pytest.approx(0.219)  # 0.000025 × 8760
    assert found.price_gap == pytest.approx(0.0005)  # 60030 / 60000 − 1
    linear_only = find_opportunities([inverse, linear], hold_hours=24, filters=Filters(linear_only=True))
    assert linear_only.opportunities == [] and linear_only.excluded == {"inverse": 1}


def test_price_gap_compares_one_unit_of_the_asset_across_multipliers():
    thousand = row("binance", "1000PEPEUSDT", 0.0001, 8, base="1000PEPE", mark_price=0.0120)
    single = row("dydx", "PEPE-USD", 0.00001, 1, base="PEPE", quote="USD", mark_price=0.00001206)
    assert thousand.asset == single.asset == "PEPE"
    assert price_gap(thousand, single) == pytest.approx(0.005)  # 0.00001206 / (0.0120 / 1000) − 1
    assert price_gap(single, replace(thousand, mark_price=None)) is None


def test_the_best_pair_is_always_across_two_venues():
    rows = [
        row("binance", "BTCUSDT", -0.0002, 8),  # −0.000025 per hour
        row("binance", "BTCUSD_PERP", 0.0004, 8, settle="BTC", contract_type="inverse"),  # 0.00005 per hour
        row("okx", "BTC-USDT-SWAP", 0.00005, 8),  # 0.00000625 per hour
    ]
    long_row, short_row = best_pair(rows)
    # binance−binance (0.000075) is not allowed; okx → binance inverse 0.00004375 beats
    # binance linear → okx 0.00003125
    assert (long_row.native_symbol, short_row.native_symbol) == ("BTC-USDT-SWAP", "BTCUSD_PERP")
    assert best_pair(rows[:2]) is None
    only_one_venue = find_opportunities(rows[:2], hold_hours=24)
    assert only_one_venue.opportunities == [] and only_one_venue.excluded == {}


def test_filters_on_open_interest_volume_venues_and_net_apr():
    rows = mixed_intervals()
    rows[1] = replace(rows[1], open_interest_usd=None)  # hyperliquid's OI unknown
    rows[4] = replace(rows[4], volume_24h_usd=2e5)  # dydx thin
    scan = find_opportunities(rows, hold_hours=24, filters=Filters(min_open_interest_usd=1e6))
    (found,) = scan.opportunities
    assert scan.excluded == {"open_interest": 1}  # an unknown figure does not pass a set minimum
    assert (found.long.exchange, found.short.exchange) == ("dydx", "bybit")  # 0.00005 + 0.00005 per hour
    scan = find_opportunities(rows, hold_hours=24, filters=Filters(min_volume_24h_usd=1e6))
    assert scan.excluded == {"volume": 1}
    assert (scan.opportunities[0].long.exchange, scan.opportunities[0].short.exchange) == (
        "okx",
        "hyperliquid",
    )
    venues = Filters(exchanges=frozenset({"binance", "okx"}))
    (found,) = find_opportunities(rows, hold_hours=24, filters=venues).opportunities
    assert (found.long.exchange, found.short.exchange) == ("okx", "binance")
    # okx → binance: (0.0000375 + 0.0000125) = 0.00005 per hour; fees 2 × (0.0005 + 0.0005) = 0.002
    # net over 24 h: (0.00005 × 24 − 0.002) / 24 × 8760 = −0.292: below a 0 minimum, so dropped
    assert found.net_apr == pytest.approx(-0.292)
    at_least_zero = replace(venues, min_net_apr=0.0)
    assert find_opportunities(rows, hold_hours=24, filters=at_least_zero).opportunities == []
    assert find_opportunities(
        rows, hold_hours=48, filters=at_least_zero
    ).opportunities  # 0.0004 × 182.5 = 0.073


def test_unknown_intervals_and_flagged_rows_are_left_out_unless_allowed():
    rows = [
        row("okx", "BTC-USDT-SWAP", 0.0001, 8),  # 0.0000125 per hour
        row("dydx", "BTC-USD", 0.00001, 1),  # 0.00001 per hour
        row("paradex", "BTC-USD-PERP", -0.01, None),  # interval unknown: never usable
        mark_not_live(row("bybit", "BTCUSDT", -0.0004, 8)),  # stale, −0.00005 per hour
        row("bitget", "BTCUSDT", 0.5, 8),  # 0.5 per 8 h is above 4 % per hour: implausible_rate
        row("binance", "BTCUSDT", 0.0008, 8, listed=False),  # unlisted, 0.0001 per hour
    ]
    assert rows[4].flags == ("implausible_rate",) and rows[3].flags == ("stale",)
    scan = find_opportunities(rows, hold_hours=24)
    (found,) = scan.opportunities
    # only the two clean rows: long dYdX, short OKX, 0.0000125 − 0.00001 = 0.0000025 per hour
    assert (found.long.exchange, found.short.exchange) == ("dydx", "okx") and found.flags == ()
    assert found.spread_per_hour == pytest.approx(0.0000025)
    assert scan.excluded == {"implausible_rate": 1, "interval_unknown": 1, "stale": 1, "unlisted": 1}
    allowed = Filters(allow_flags=frozenset({"stale", "interval_unknown"}))
    scan = find_opportunities(rows, hold_hours=24, filters=allowed)
    (found,) = scan.opportunities
    # the stale Bybit row is now the long leg: 0.0000125 + 0.00005 = 0.0000625 per hour, and marked;
    # the row without an interval is still left out although its flag is named
    assert (found.long.exchange, found.short.exchange) == ("bybit", "okx")
    assert found.spread_per_hour == pytest.approx(0.0000625)
    assert found.flags == ("stale",) and found.long.flags == ("stale",) and found.short.flags == ()
    assert scan.excluded == {"implausible_rate": 1, "interval_unknown": 1, "unlisted": 1}


def test_rows_without_a_shared_asset_are_counted_and_ordering_is_by_net_apr():
    stock = row("bitget", "AAPLUSDT", 0.001, 8, base="AAPL", asset_class="equity")
    eth = [
        row("okx", "ETH-USDT-SWAP", -0.0008, 8, base="ETH"),
        row("binance", "ETHUSDT", 0.0008, 8, base="ETH"),
    ]
    scan = find_opportunities([*mixed_intervals(), *eth, stock], hold_hours=24)
    assert scan.excluded == {"no_asset": 1}
    # ETH: 0.0016 / 8 = 0.0002 per hour, fees 0.002: (0.0048 − 0.002) / 24 × 8760 = 1.022 > BTC's 0.2701
    assert [o.asset for o in scan.opportunities] == ["ETH", "BTC"]
    assert scan.opportunities[0].net_apr == pytest.approx(1.022)


def test_hold_hours_must_be_a_positive_finite_number():
    for hours in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            find_opportunities(mixed_intervals(), hold_hours=hours)


def test_flat_record_has_every_column_once():
    (found,) = find_opportunities(mixed_intervals(), hold_hours=24).opportunities
    flat = found.to_flat()
    assert list(flat) == flat_columns()
    assert flat["long_exchange"] == "dydx" and flat["short_native_symbol"] == "BTC" and flat["flags"] == ""


def history(exchange, native, rates, interval, start, offset_s=0.0):
    """One row per hourly cycle, observed `offset_s` seconds into the cycle."""
    return [
        row(exchange, native, rate, interval, observed_at=start + timedelta(hours=i, seconds=offset_s))
        for i, rate in enumerate(rates)
    ]


T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
# hyperliquid (1 h) per hour: 0.0001, 0.00001, 0.00001, 0.00002; okx (8 h) 0.0004 / 8 = 0.00005 per hour.
# spreads short − long: −0.00005, then +0.00004, +0.00004, +0.00003: positive since the second cycle.
LONG = history("hyperliquid", "BTC", [0.0001, 0.00001, 0.00001, 0.00002], 1, T0)
SHORT = history("okx", "BTC-USDT-SWAP", [0.0004] * 4, 8, T0, offset_s=0.3)


def test_persistence_is_the_unbroken_positive_run_up_to_the_newest_observation():
    hours, since = persistence(LONG, SHORT)
    # from hyperliquid's second observation (T0 + 1 h) to okx's last (T0 + 3 h + 0.3 s): 7200.3 s
    assert since == T0 + timedelta(hours=1)
    assert hours == pytest.approx(7200.3 / 3600)
    negative_now = [*LONG, row("hyperliquid", "BTC", 0.0001, 1, observed_at=T0 + timedelta(hours=4))]
    assert persistence(negative_now, SHORT) == (0.0, None)
    assert persistence(LONG, []) == (0.0, None)
    unknown_interval = [replace(r, interval_hours=None) for r in LONG[:2]] + LONG[2:]
    assert persistence(unknown_interval, SHORT)[1] == T0 + timedelta(hours=2)  # the first two are skipped


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        made = Store(str(tmp_path / "funding.db"))
    else:
        if not pg_available():
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_URL}")
            pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
        engine = create_engine(database_url(PG_URL))
        metadata.drop_all(engine)
        engine.dispose()
        made = Store(PG_URL)
    yield made
    made.close()


def test_persistence_from_the_stored_history_of_every_cycle(store, monkeypatch):
    other = history("okx", "ETH-USDT-SWAP", [0.0001] * 4, 8, T0)
    for i in range(4):
        cycle_id = store.start_cycle(T0 + timedelta(hours=i))
        store.write_venue(cycle_id, VenueRun("hyperliquid", "ok"), [LONG[i]])
        store.write_venue(cycle_id, VenueRun("okx", "ok"), [SHORT[i], other[i]])
    keys = [("hyperliquid", "BTC"), ("okx", "BTC-USDT-SWAP"), ("bybit", "NONE")]
    stored = store.rate_history(keys)
    assert set(stored) == {("hyperliquid", "BTC"), ("okx", "BTC-USDT-SWAP")}  # ETH not asked, bybit absent
    assert [r.funding_rate for r in stored[("hyperliquid", "BTC")]] == [0.0001, 0.00001, 0.00001, 0.00002]
    assert [r.observed_at for r in stored[("okx", "BTC-USDT-SWAP")]] == [r.observed_at for r in SHORT]
    recent = store.rate_history(keys, since=T0 + timedelta(hours=2))
    assert [r.funding_rate for r in recent[("hyperliquid", "BTC")]] == [0.00001, 0.00002]
    assert store.rate_history([]) == {}
    monkeypatch.setattr("funding_finder.store.HISTORY_CHUNK", 1)  # one query per contract: same answer
    assert store.rate_history(keys) == stored
    (found,) = find_opportunities(store.latest_rates(), hold_hours=24).opportunities
    assert found.asset == "BTC" and found.persistence_hours is None
    found = with_persistence(found, stored)
    assert found.positive_since == T0 + timedelta(hours=1)
    assert found.persistence_hours == pytest.approx(7200.3 / 3600)
    assert found.to_json()["positive_since"] == "2026-12-04T05:00:00Z"
