"""Kraken Futures: the 2026-08-27 `/tickers` recording (45 tickers), the shape-only instrument list and
tickers, the PF_XBTUSD funding history and the PI_XBTUSD WebSocket ticker (absolute and relative rates
side by side); values copied by hand from those files."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import krakenfutures as kraken
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import by_native

TICKERS = "derivatives-api-v3-tickers__arb-chain-bot-20260827.trimmed.json"
INSTRUMENTS = "instruments.shape-only.json"
OBSERVED = datetime(2026, 8, 27, 17, 21, 56, 554000, tzinfo=UTC)  # the body's serverTime
NEXT_HOUR = datetime(2026, 8, 27, 18, 0, tzinfo=UTC)


@pytest.fixture
def tickers():
    return load_json("krakenfutures", TICKERS)


@pytest.fixture
def instruments():
    return load_json("krakenfutures", INSTRUMENTS)


def build(tickers, instruments=None, observed_at=OBSERVED):
    return kraken.build_rows({"tickers": tickers, "instruments": instruments}, observed_at)


def test_spec_is_tickers_and_instruments_at_the_futures_host():
    spec = kraken.SPEC
    assert (spec.id, spec.hosts) == ("krakenfutures", {"api": "https://futures.kraken.com"})
    rates, listing = spec.endpoints
    assert (rates.name, rates.path, rates.role, dict(rates.params)) == (
        "tickers",
        "/derivatives/api/v3/tickers",
        Role.RATES,
        {},
    )
    assert (listing.name, listing.path, listing.role) == (
        "instruments",
        "/derivatives/api/v3/instruments",
        Role.INSTRUMENTS,
    )
    (limit,) = spec.limits
    assert (limit.capacity, limit.window_s, limit.scope) == (1, 1.0, "ip")
    assert [limit.cost_of(e.name) for e in spec.endpoints] == [1, 1]
    assert spec.check_envelope is kraken.check_envelope
    assert spec.workers == 1


def test_linear_pf_absolute_rate_is_divided_by_the_mark(tickers, instruments):
    btc = by_native(build(tickers, instruments))["PF_XBTUSD"]
    assert btc.symbol == "BTC/USD:USD"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USD", "USD")
    assert btc.contract_type == "linear"
    assert btc.funding_rate == pytest.approx(0.137064501614110125 / 80758.44014980957, rel=1e-12)
    assert btc.predicted_rate == pytest.approx(1.19097071836225 / 80758.44014980957, rel=1e-12)
    assert btc.interval_hours == 1
    assert btc.next_funding_time == NEXT_HOUR
    assert btc.mark_price == 80758.44014980957
    assert btc.index_price == 80749.32
    assert btc.open_interest_usd is None  # not in the (shape-only) list: no contract size
    assert btc.volume_24h_usd == 514806785.4781
    assert btc.asset_class == "crypto"
    assert btc.apr == pytest.approx(0.137064501614110125 / 80758.44014980957 * 8760, rel=1e-12)
    assert btc.flags == ("unlisted",)


def test_conversion_agrees_with_the_history_of_the_same_hour_within_its_price_gap():
    history = load_json(
        "krakenfutures",
        "derivatives-api-v4-historicalfundingrates-PF_XBTUSD__arb-chain-bot-20260827.trimmed.json",
    )
    last = history["rates"][-1]
    assert last["timestamp"] == "2026-08-27T17:00:00Z"
    assert last["fundingRate"] == 0.137064501614110125  # the ticker's absolute value at 17:21Z
    converted = kraken.relative_rate(last["fundingRate"], 80758.44014980957, "linear")
    assert converted == pytest.approx(last["relativeFundingRate"], rel=0.006)


def test_inverse_pi_absolute_rate_is_multiplied_by_the_mark(tickers, instruments):
    pi = by_native(build(tickers, instruments))["PI_XBTUSD"]
    assert pi.symbol == "BTC/USD:BTC"
    assert (pi.base, pi.quote, pi.settle, pi.contract_type) == ("BTC", "USD", "BTC", "inverse")
    assert pi.funding_rate == pytest.approx(1.092753425e-9 * 80659.63239729471, rel=1e-12)
    assert pi.predicted_rate == pytest.approx(-3.705556608e-9 * 80659.63239729471, rel=1e-12)
    assert (pi.interval_hours, pi.next_funding_time) == (1, NEXT_HOUR)
    assert pi.mark_price == 80659.63239729471
    assert pi.open_interest_usd == 3441100.0  # contracts × contractSize 1 USD
    assert pi.volume_24h_usd == 186251
    assert pi.flags == ()


def test_inverse_formula_matches_the_venues_own_relative_rate_in_the_websocket_ticker():
    ws = load_json("krakenfutures", "ws-ticker-PI_XBTUSD.json")
    converted = kraken.relative_rate(ws["funding_rate"], ws["markPrice"], "inverse")
    assert converted == pytest.approx(ws["relative_funding_rate"], rel=0.005)
    dividing = kraken.relative_rate(ws["funding_rate"], ws["markPrice"], "linear")
    assert abs(dividing) < abs(ws["relative_funding_rate"]) / 1e8  # the price² error of dividing


def test_listed_linear_row_gets_open_interest_from_the_contract_size(tickers, instruments):
    eth = by_native(build(tickers, instruments))["PF_ETHUSD"]
    assert eth.symbol == "ETH/USD:USD"
    assert eth.funding_rate == pytest.approx(0.033723155354167508 / 2528.70815474017, rel=1e-12)
    assert eth.open_interest_usd == pytest.approx(34127.952 * 1 * 2528.70815474017)
    assert eth.volume_24h_usd == 202162911.0767
    assert eth.index_price == 2528.37
    assert eth.flags == ()


def test_xstock_pair_code_is_equity_and_keeps_its_listing(tickers):
    nvda = by_native(build(tickers, load_json("krakenfutures", INSTRUMENTS)))["PF_NVDAXUSD"]
    assert nvda.symbol == "NVDAx/USD:USD"
    assert (nvda.base, nvda.multiplier, nvda.contract_type) == ("NVDAx", 1, "linear")
    assert nvda.asset_class == "equity"
    assert nvda.funding_rate == pytest.approx(-0.003102166371720757 / 229.86357164885, rel=1e-12)
    assert nvda.volume_24h_usd == 835428.4656
    equities = sorted(row.native_symbol for row in build(tickers).rows if row.asset_class == "equity")
    assert equities == ["PF_CRCLXUSD", "PF_MSTRXUSD", "PF_NVDAXUSD"]
    assert by_native(build(tickers))["PF_XAUTUSD"].asset_class == "crypto"  # no xStock code


def test_dated_futures_are_dropped_and_every_perpetual_kept(tickers, instruments):
    tags = [t["tag"] for t in tickers["tickers"]]
    assert (len(tags), tags.count("perpetual")) == (45, 42)
    result = build(tickers, instruments)
    assert (len(result.rows), result.bad_rows) == (42, 0)
    rows = by_native(result)
    assert not {"FI_XBTUSD_260925", "FI_XRPUSD_260828", "FF_ETHUSD_260925"} & set(rows)
    assert {row.interval_hours for row in result.rows} == {1.0}
    flags = [row.flags for row in result.rows]
    assert (flags.count(()), flags.count(("unlisted",))) == (3, 39)  # PI_XBTUSD, PF_ETHUSD, PF_PEPEUSD


def test_suspended_or_untradeable_contracts_are_dropped(tickers, instruments):
    tickers["tickers"][1]["suspended"] = True  # PF_TAOUSD
    instruments["instruments"][1]["tradeable"] = False  # PF_ETHUSD
    rows = by_native(build(tickers, instruments))
    assert "PF_TAOUSD" not in rows and "PF_ETHUSD" not in rows
    assert len(rows) == 40


def test_missing_tag_and_suspended_mean_unknown_and_keep_the_row(tickers):
    del tickers["tickers"][1]["tag"]
    del tickers["tickers"][1]["suspended"]
    del tickers["tickers"][0]["tag"]  # FI_XBTUSD_260925: its family is dated
    rows = by_native(build(tickers))
    assert rows["PF_TAOUSD"].funding_rate == pytest.approx(0.006732673681400084 / 253.55352274136)
    assert "FI_XBTUSD_260925" not in rows


def test_without_instruments_rows_are_unfiltered_and_lack_open_interest(tickers):
    result = build(tickers, None)
    assert len(result.rows) == 42
    assert {row.flags for row in result.rows} == {("unfiltered",)}
    assert by_native(result)["PI_XBTUSD"].open_interest_usd is None


def test_a_wrong_shaped_instrument_list_costs_only_itself(tickers):
    result = build(tickers, {"result": "success", "instruments": "x"})
    assert result.unusable == {"instruments"}
    assert len(result.rows) == 42


def test_relative_rate_given_by_the_venue_wins_and_the_cap_clamps(tickers, instruments):
    eth = next(t for t in tickers["tickers"] if t["symbol"] == "PF_ETHUSD")
    eth["relativeFundingRate"] = 0.0000123
    eth["fundingRatePrediction"] = 100.0  # 100 USD per ETH per hour ≫ the 0.25 %/h cap
    row = by_native(build(tickers, instruments))["PF_ETHUSD"]
    assert row.funding_rate == 0.0000123
    assert row.predicted_rate == 0.0025  # the list's maxRelativeFundingRate
    unlisted = by_native(build(tickers, None))["PF_ETHUSD"]
    assert unlisted.predicted_rate == pytest.approx(100.0 / 2528.70815474017)  # no cap known: not clamped


def test_shape_only_tickers_parse_with_btc_spelled_in_the_pair():
    rows = by_native(build(load_json("krakenfutures", "tickers-2.shape-only.json"), None))
    assert rows["PI_XBTUSD"].symbol == "BTC/USD:BTC"
    assert rows["PF_ETHUSD"].symbol == "ETH/USD:USD"


def test_malformed_rows_cost_only_themselves(tickers):
    t = tickers["tickers"]
    t[1]["fundingRate"] = None  # PF_TAOUSD
    t[3]["markPrice"] = 0  # PI_XBTUSD: no price to convert with
    t[4]["pair"] = "MSTRx"  # PF_MSTRXUSD
    t[5]["symbol"] = "PX_ENAUSD"
    t[6] = "not a ticker"
    result = build(tickers)
    assert (len(result.rows), result.bad_rows) == (37, 5)


def test_envelope_errors_inside_http_200():
    with pytest.raises(RateLimited):
        kraken.check_envelope("krakenfutures", "tickers", {"result": "error", "error": "apiLimitExceeded"})
    with pytest.raises(ExchangeError) as raised:
        kraken.check_envelope("krakenfutures", "tickers", {"result": "error", "error": "marketUnavailable"})
    assert not isinstance(raised.value, RateLimited)
    assert "marketUnavailable" in str(raised.value)
    for shape in ([], {"tickers": []}, "x"):
        with pytest.raises(BadPayload):
            kraken.check_envelope("krakenfutures", "tickers", shape)
    assert kraken.check_envelope("krakenfutures", "tickers", load_json("krakenfutures", TICKERS)) is None


@pytest.mark.parametrize("payload", [{"result": "success"}, {"result": "success", "tickers": {}}, [], None])
def test_wrong_shapes_are_bad_payload(payload):
    with pytest.raises(BadPayload):
        build(payload)


def test_no_tickers_is_empty_payload():
    with pytest.raises(EmptyPayload):
        build({"result": "success", "tickers": []})


def test_one_cycle_through_the_simulator_within_its_limits():
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            kraken.SPEC,
            RateGate(kraken.SPEC.id, kraken.SPEC.limits),
            base_urls={h: sim.venue_url(kraken.SPEC.id) for h in kraken.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in kraken.SPEC.endpoints}
        result = kraken.build_rows(payloads, OBSERVED)
        stats = sim.stats()["venues"]["krakenfutures"]
    assert (stats["requests"], stats["violations"]) == (2, 0)
    assert len(result.rows) == 42
    assert by_native(result)["PI_XBTUSD"].open_interest_usd == 3441100.0


def test_crossing_the_simulated_limit_is_the_venues_error_and_rate_limited():
    with Simulator(latency_ms=0) as sim:
        url = sim.venue_url("krakenfutures") + "/derivatives/api/v3/tickers"
        first, over = requests.get(url, timeout=10), requests.get(url, timeout=10)
        client = VenueClient(
            kraken.SPEC,
            RateGate("krakenfutures", kraken.SPEC.limits),
            base_urls={"api": sim.venue_url("krakenfutures")},
            retries=0,
        )
        with pytest.raises(RateLimited):
            client.fetch(kraken.SPEC.endpoints[0])  # its own gate is fresh; the venue's window is not
    assert first.status_code == 200
    assert over.status_code == 429
    assert over.json() == {"result": "error", "error": "apiLimitExceeded"}
    pool = LIMITS["krakenfutures"].pool("front-door")
    assert (pool.capacity, pool.window_s, pool.scope) == (1, 1.0, ())


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
NUMBER = st.sampled_from([0.137, 1.09e-9, -0.0031, 0, 80758.44, 1e308]) | st.floats() | JSONISH
TICKER = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["PF_XBTUSD", "PI_XBTUSD", "FF_ETHUSD_260925", "PX_A", "PF_"]) | JSONISH,
        "tag": st.sampled_from(["perpetual", "month"]) | JSONISH,
        "pair": st.sampled_from(["XBT:USD", "NVDAx:USD", "XBT", ":USD", "a:b:c"]) | JSONISH,
        "suspended": JSONISH,
        "fundingRate": NUMBER,
        "fundingRatePrediction": NUMBER,
        "relativeFundingRate": NUMBER,
        "markPrice": NUMBER,
        "indexPrice": NUMBER,
        "openInterest": NUMBER,
        "volumeQuote": NUMBER,
    },
)
INSTRUMENT = st.fixed_dictionaries(
    {},
    optional={
        "symbol": st.sampled_from(["PF_XBTUSD", "PI_XBTUSD"]) | JSONISH,
        "tradeable": JSONISH,
        "contractSize": NUMBER,
        "maxRelativeFundingRate": NUMBER,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(TICKER | JSONISH, max_size=6),
    st.none() | st.fixed_dictionaries({"instruments": st.lists(INSTRUMENT | JSONISH, max_size=4)}) | JSONISH,
)
def test_arbitrary_tickers_never_break_build_rows(rows, listing):
    try:
        result = build({"result": "success", "tickers": copy.deepcopy(rows)}, copy.deepcopy(listing))
    except (BadPayload, EmptyPayload):
        return
    listed = (
        len(listing["instruments"])
        if isinstance(listing, dict) and "instruments" not in result.unusable
        else 0
    )
    assert len(result.rows) + result.bad_rows <= len(rows) + listed
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.predicted_rate is None or math.isfinite(row.predicted_rate)
        assert (row.interval_hours, row.next_funding_time) == (1.0, NEXT_HOUR)
        assert row.contract_type in ("linear", "inverse")
        assert set(row.flags) <= set(FLAGS)


HISTORY = "derivatives-api-v4-historicalfundingrates-PF_XBTUSD__arb-chain-bot-20260827.trimmed.json"


def test_history_rows_field_by_field_use_the_relative_rate():
    recorded = load_json("krakenfutures", HISTORY)
    parsed = kraken.parse_history(recorded, "PF_XBTUSD")
    assert parsed.bad_rows == 0 and len(parsed.items) == 6
    first = parsed.items[0]
    # {"timestamp": "2026-08-27T12:00:00Z", "fundingRate": 0.977221019461015177,
    #  "relativeFundingRate": 0.000012296720833333}
    assert (first.exchange, first.native_symbol) == ("krakenfutures", "PF_XBTUSD")
    assert first.funding_time == datetime(2026, 8, 27, 12, tzinfo=UTC)
    assert first.funding_rate == 0.000012296720833333  # fraction per hour, never the absolute 0.977
    # linear: absolute = relative × price, so the settlement price is 0.977221 / 0.0000122967 ≈ 79,470 USD
    assert math.isclose(first.mark_price, 0.977221019461015177 / 0.000012296720833333)
    assert round(first.mark_price) == 79470
    assert [e.funding_time.hour for e in parsed.items] == [12, 13, 14, 15, 16, 17]
    assert [e.funding_rate for e in parsed.items] == [row["relativeFundingRate"] for row in recorded["rates"]]


def test_history_inverse_price_and_malformed_rows():
    assert kraken.settlement_price(2.0, 44000.0, "inverse") == 22000.0  # relative = absolute × price
    assert kraken.settlement_price(0.0, 0.0, "linear") is None
    payload = copy.deepcopy(load_json("krakenfutures", HISTORY))
    del payload["rates"][0]["relativeFundingRate"]
    payload["rates"][1]["timestamp"] = 1787832000000  # not ISO text
    parsed = kraken.parse_history(payload, "PF_XBTUSD")
    assert parsed.bad_rows == 2 and len(parsed.items) == 4
    with pytest.raises(BadPayload):
        kraken.parse_history({"result": "success"}, "PF_XBTUSD")
    history = kraken.SPEC.history
    assert history.paging == "none" and dict(history.request("PF_XBTUSD", 0, 1).params) == {
        "symbol": "PF_XBTUSD"
    }
