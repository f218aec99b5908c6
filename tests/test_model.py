from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funding_finder.model import (
    apr_of,
    iso_utc,
    make_rate,
    next_full_hour,
    number,
    optional_number,
    split_multiplier,
    unified_symbol,
)


@pytest.mark.parametrize(
    ("listed", "base", "multiplier"),
    [
        ("1000PEPE", "PEPE", 1000),
        ("kPEPE", "PEPE", 1000),
        ("1000000MOG", "MOG", 1_000_000),
        ("10000SATS", "SATS", 10_000),
        ("100000AIDOGE", "AIDOGE", 100_000),
        ("1MBABYDOGE", "BABYDOGE", 1_000_000),
        ("1INCH", "1INCH", 1),
        ("XBT", "BTC", 1),
        ("BTC", "BTC", 1),
        ("KAVA", "KAVA", 1),
        ("1000", "1000", 1),
    ],
)
def test_multiplier_prefixes_are_split_and_digit_names_stay_assets(listed, base, multiplier):
    assert split_multiplier(listed) == (base, multiplier)


def test_symbol_keeps_the_listing_but_aliases_xbt():
    assert unified_symbol("1000PEPE", "USDT", "USDT") == "1000PEPE/USDT:USDT"
    assert unified_symbol("XBT", "USD", "XBT") == "BTC/USD:XBT"


def test_apr_is_simple_annualization_by_interval():
    assert apr_of(0.0001, 8) == pytest.approx(0.1095)
    assert apr_of(0.0001, 1) == pytest.approx(0.876)
    assert apr_of(0.0001, None) is None


def test_next_full_hour_is_strictly_after():
    assert next_full_hour(datetime(2026, 7, 4, 15, 56, 12, tzinfo=UTC)) == datetime(
        2026, 7, 4, 16, tzinfo=UTC
    )
    assert next_full_hour(datetime(2026, 7, 4, 16, 0, 0, tzinfo=UTC)) == datetime(2026, 7, 4, 17, tzinfo=UTC)
    assert next_full_hour(datetime(2026, 12, 31, 23, 0, 1, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["", "  ", None, True, "abc", "nan", "inf", float("nan"), [], {}])
def test_number_rejects_what_is_not_a_finite_number(bad):
    with pytest.raises(ValueError):
        number(bad)


def test_number_reads_strings_and_json_numbers_exactly():
    assert number("0.00010000") == 0.0001
    assert number(7.3e-05) == 7.3e-05
    assert number("-0.0018087460514744") == -0.0018087460514744
    assert optional_number("") is None and optional_number(None) is None


@given(st.datetimes(timezones=st.just(UTC)))
def test_iso_utc_truncates_to_the_second(moment):
    text = iso_utc(moment)
    assert text.endswith("Z") and len(text) == 20
    assert datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC) == moment.replace(microsecond=0)


def row(**changes):
    fields = dict(
        exchange="okx",
        native_symbol="BTC-USDT-SWAP",
        listed_base="BTC",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0001,
        interval_hours=8.0,
        next_funding_time=datetime(2026, 9, 20, tzinfo=UTC),
        observed_at=datetime(2026, 9, 19, 13, 24, tzinfo=UTC),
    )
    fields.update(changes)
    return make_rate(**fields)


def test_flags_follow_the_closed_list():
    assert row().flags == ()
    assert row(next_funding_time=datetime(2026, 9, 19, 13, 24, tzinfo=UTC)).flags == ("stale",)
    assert row(interval_hours=None).flags == ("interval_unknown",)
    assert row(listed=False).flags == ("unlisted",)
    assert row(listed=None, interval_hours=None).flags == ("interval_unknown", "unfiltered")


def test_a_mark_price_far_from_the_index_is_flagged():
    assert row(mark_price=104.9, index_price=100.0).flags == ()
    assert row(mark_price=94.9, index_price=100.0).flags == ("mark_off_index",)
    assert row(mark_price=55540.0, index_price=67328.5).flags == ("mark_off_index",)  # the Coinbase sandbox
    assert row(mark_price=55540.0, index_price=None).flags == ()  # nothing to compare with
    assert row(mark_price=1.0, index_price=0.0).flags == ()


def test_a_rate_above_the_venues_cap_or_the_sanity_bound_is_flagged_implausible():
    assert row(funding_rate=0.0075, rate_cap=0.0075).flags == ()  # at the cap
    assert row(funding_rate=-0.0076, rate_cap=0.0075).flags == ("implausible_rate",)
    # 0.01 % per 8 h read as a percent (×100) is 1 % per 8 h: inside the sanity bound, caught by a cap
    assert row(funding_rate=0.01).flags == ()
    assert row(funding_rate=0.01, rate_cap=0.003).flags == ("implausible_rate",)
    # an absolute amount taken as a rate (Kraken: 7.3 currency units per contract per hour)
    assert row(funding_rate=7.3, interval_hours=1.0).flags == ("implausible_rate",)
    assert row(funding_rate=0.04, interval_hours=1.0).flags == ()  # Hyperliquid's cap, 4 % per hour
    assert row(funding_rate=0.33, interval_hours=8.0).flags == ("implausible_rate",)
    assert row(funding_rate=0.5, interval_hours=None).flags == ("interval_unknown",)  # no bound known


def test_json_form_uses_iso_times_and_plain_numbers():
    data = row(listed_base="1000PEPE").to_json()
    assert data["symbol"] == "1000PEPE/USDT:USDT"
    assert data["base"] == "PEPE" and data["multiplier"] == 1000
    assert data["next_funding_time"] == "2026-09-20T00:00:00Z"
    assert data["observed_at"] == "2026-09-19T13:24:00Z"
    assert data["apr"] == pytest.approx(0.1095)
    assert data["flags"] == []


def test_the_same_crypto_asset_lines_up_across_venues_and_tokenised_stocks_never_do_by_name():
    pepe = [
        row(exchange="binance", native_symbol="1000PEPEUSDT", listed_base="1000PEPE"),
        row(exchange="hyperliquid", native_symbol="kPEPE", listed_base="kPEPE", quote="USDC", settle="USDC"),
        row(exchange="okx", native_symbol="PEPE-USDT-SWAP", listed_base="PEPE"),
    ]
    assert {r.asset for r in pepe} == {"PEPE"} and [r.multiplier for r in pepe] == [1000, 1000, 1]
    assert row(listed_base="XBT").asset == "BTC"
    assert row(listed_base="1INCH").asset == "1INCH"
    tsla = row(exchange="binance", native_symbol="TSLAUSDT", listed_base="TSLA", asset_class="equity")
    tslax = row(
        exchange="krakenfutures", native_symbol="PF_TSLAXUSD", listed_base="TSLAX", asset_class="equity"
    )
    same_name = row(exchange="bybit", native_symbol="TSLAUSDT", listed_base="TSLA", asset_class="equity")
    assert (tsla.asset, tslax.asset, same_name.asset) == (None, None, None)
    assert tsla.to_json()["asset"] is None and pepe[0].to_json()["asset"] == "PEPE"


def test_an_explicit_mapping_is_the_only_way_two_stock_contracts_line_up(monkeypatch):
    from funding_finder import model

    monkeypatch.setitem(model.SAME_UNDERLYING, ("binance", "TSLAUSDT"), "TSLA")
    monkeypatch.setitem(model.SAME_UNDERLYING, ("krakenfutures", "PF_TSLAXUSD"), "TSLA")
    tsla = row(exchange="binance", native_symbol="TSLAUSDT", listed_base="TSLA", asset_class="equity")
    tslax = row(
        exchange="krakenfutures", native_symbol="PF_TSLAXUSD", listed_base="TSLAX", asset_class="equity"
    )
    assert tsla.asset == tslax.asset == "TSLA"


def test_settled_rounds_jitter_to_the_second_and_reads_strings():
    from funding_finder.model import settled

    event = settled("binance", "BTCUSDT", 1781078400011, "-0.00003385", "")
    assert event.funding_time == datetime(2026, 6, 10, 8, tzinfo=UTC)
    assert (event.funding_rate, event.mark_price, event.interval_hours) == (-0.00003385, None, None)
    with pytest.raises(ValueError):
        settled("binance", "BTCUSDT", "", "0.0001")


def test_intervals_come_from_the_gap_to_the_previous_event_never_from_a_grid():
    from funding_finder.model import SettledFunding, with_intervals

    def at(hour, minute=0):
        return SettledFunding("hyperliquid", "BTC", datetime(2023, 6, 8, hour, minute, tzinfo=UTC), 0.0001)

    # 8-hourly, then hourly (Hyperliquid's change of 2023-06-08), out of order and with a duplicate
    events = [at(16), at(0), at(8), at(17), at(16), at(18)]
    spaced = with_intervals(events)
    assert [(e.funding_time.hour, e.interval_hours) for e in spaced] == [
        (0, None),
        (8, 8.0),
        (16, 8.0),
        (17, 1.0),
        (18, 1.0),
    ]
    resumed = with_intervals([at(8), at(16)], previous=datetime(2023, 6, 8, 8, tzinfo=UTC))
    assert [(e.funding_time.hour, e.interval_hours) for e in resumed] == [(16, 8.0)]


def test_strict_json_makes_non_finite_numbers_null():
    from funding_finder.model import strict_json

    value = {"apr": float("inf"), "rates": [1.5, float("nan"), (-float("inf"), "x")], "n": 3}
    assert strict_json(value) == {"apr": None, "rates": [1.5, None, [None, "x"]], "n": 3}
