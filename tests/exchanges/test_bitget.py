"""Bitget v2 mix adapter against the USDT-FUTURES recordings of 2026-08-27T16:39:29Z: current-fund-rate
for BTCUSDT (the only recorded rate row: no bulk body exists), tickers and contracts (50 rows each).
Expected values are copied by hand from those files. Rows marked "test-made" below are the recorded
BTCUSDT rate row with its symbol (and where said, a field) changed, to exercise the join against the
recorded tickers and contracts of other symbols; their rates are not market data."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, HttpClientError, RateLimited
from funding_finder.exchanges import bitget
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_bytes, load_json
from rows import assert_row

RATE_FILE = "v2-mix-market-current-fund-rate-BTCUSDT__arb-chain-bot-20260827.json"
TICKERS_FILE = "v2-mix-market-tickers-USDT-FUTURES__arb-chain-bot-20260827.trimmed.json"
CONTRACTS_FILE = "v2-mix-market-contracts-USDT-FUTURES__arb-chain-bot-20260827.trimmed.json"
OBSERVED = datetime(2026, 8, 27, 16, 39, 29, 269000, tzinfo=UTC)  # requestTime 1787848769269
SETTLEMENT = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # nextUpdate 1787875200000
USDT, USDC, COIN = "USDT-FUTURES", "USDC-FUTURES", "COIN-FUTURES"


def name(kind: str, product_type: str = USDT) -> str:
    return f"{kind}:{product_type}"


@pytest.fixture
def recorded() -> dict[str, Any]:
    return {
        name("current-fund-rate"): load_json("bitget", RATE_FILE),
        name("tickers"): load_json("bitget", TICKERS_FILE),
        name("contracts"): load_json("bitget", CONTRACTS_FILE),
    }


def rates_of(recorded: dict[str, Any]) -> list[dict[str, Any]]:
    return recorded[name("current-fund-rate")]["data"]


def made_row(recorded: dict[str, Any], symbol: str, **changes: Any) -> dict[str, Any]:
    """The recorded BTCUSDT rate row under another symbol (test-made, see the module docstring)."""
    return copy.deepcopy(rates_of(recorded)[0]) | {"symbol": symbol} | changes


def build(payloads: dict[str, Any], observed_at: datetime = OBSERVED) -> dict[str, FundingRate]:
    return {row.native_symbol: row for row in bitget.build_rows(payloads, observed_at).rows}


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": "00000", "msg": "success", "requestTime": 1787848769269, "data": list(rows)}


def test_spec_calls_three_bulk_paths_per_product_type_under_per_path_limits() -> None:
    spec = bitget.SPEC
    assert (spec.id, spec.hosts, spec.workers) == ("bitget", {"api": "https://api.bitget.com"}, 3)
    got = [(e.name, e.path, e.role, dict(e.params)) for e in spec.endpoints]
    expected = [
        (name(kind, product), f"/api/v2/mix/market/{kind}", role, {"productType": product})
        for product in (USDT, USDC, COIN)
        for kind, role in (
            ("current-fund-rate", Role.RATES),
            ("tickers", Role.EXTRA),
            ("contracts", Role.INSTRUMENTS),
        )
    ]
    assert got == expected
    assert [(lim.name, lim.capacity, lim.window_s, lim.scope) for lim in spec.limits] == [
        ("current-fund-rate", 20, 1.0, "ip"),
        ("tickers", 20, 1.0, "ip"),
        ("contracts", 20, 1.0, "ip"),
    ]
    rate_limit = spec.limits[0]
    assert [rate_limit.cost_of(name("current-fund-rate", p)) for p in (USDT, USDC, COIN)] == [1, 1, 1]
    assert rate_limit.cost_of(name("tickers")) == 0


def test_btc_8h_row_field_by_field(recorded: dict[str, Any]) -> None:
    result = bitget.build_rows(recorded, OBSERVED)
    assert (result.bad_rows, result.unusable) == (0, set())
    (btc,) = result.rows
    assert_row(
        btc,
        exchange="bitget",
        symbol="BTC/USDT:USDT",
        native_symbol="BTCUSDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.000018,
        interval_hours=8,  # fundingRateInterval "8"
        next_funding_time=SETTLEMENT,
        predicted_rate=None,
        mark_price=80307.5,
        index_price=80349.06,
        open_interest_usd=34447.5603999999348 * 80307.5,  # holdingAmount (BTC) × mark
        volume_24h_usd=2759939325.90183,  # quoteVolume
        asset_class="crypto",
        apr=0.000018 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_rwa_contract_is_equity_with_its_recorded_prices(recorded: dict[str, Any]) -> None:
    rates_of(recorded)[:] = [made_row(recorded, "AAPLUSDT")]
    assert_row(
        build(recorded)["AAPLUSDT"],
        symbol="AAPL/USDT:USDT",
        base="AAPL",
        asset_class="equity",  # isRwa "YES"
        interval_hours=8,
        mark_price=314.61,
        index_price=314.4427137356612035,
        open_interest_usd=24213.819999999997 * 314.61,
        volume_24h_usd=3701280.3692,
        flags=(),
    )


def test_interval_falls_back_to_the_contracts_4h_fund_interval(recorded: dict[str, Any]) -> None:
    made = made_row(recorded, "ALICEUSDT")
    del made["fundingRateInterval"]
    rates_of(recorded)[:] = [made]
    assert_row(
        build(recorded)["ALICEUSDT"],
        symbol="ALICE/USDT:USDT",
        interval_hours=4,  # contracts fundInterval "4"
        apr=0.000018 * 2190,
        mark_price=0.1464,
        index_price=0.1464925,
        open_interest_usd=6376307.5000000025 * 0.1464,
        volume_24h_usd=186225.91689,
        asset_class="crypto",
    )


def test_a_rate_row_interval_wins_over_the_contract_list(recorded: dict[str, Any]) -> None:
    rates_of(recorded)[:] = [made_row(recorded, "ALICEUSDT", fundingRateInterval="1")]
    assert build(recorded)["ALICEUSDT"].interval_hours == 1


def test_multiplier_prefixes_keep_the_listing(recorded: dict[str, Any]) -> None:
    rates_of(recorded)[:] = [made_row(recorded, s) for s in ("1000BONKUSDT", "1MBABYDOGEUSDT", "4USDT")]
    rows = build(recorded)
    assert_row(
        rows["1000BONKUSDT"], symbol="1000BONK/USDT:USDT", base="BONK", multiplier=1000, mark_price=0.003197
    )
    assert_row(rows["1MBABYDOGEUSDT"], symbol="1MBABYDOGE/USDT:USDT", base="BABYDOGE", multiplier=1_000_000)
    assert_row(rows["4USDT"], symbol="4/USDT:USDT", base="4", multiplier=1, interval_hours=8)


def test_the_recorded_lists_parse_whole(recorded: dict[str, Any]) -> None:
    contracts = bitget.parse_contracts(recorded[name("contracts")], USDT)
    tickers = bitget.parse_tickers(recorded[name("tickers")], USDT)
    assert (len(contracts.items), len(tickers.items), contracts.bad_rows, tickers.bad_rows) == (50, 50, 0, 0)
    assert all(c.tradable for c in contracts.items)
    hours = [c.interval_hours for c in contracts.items]
    assert (hours.count(4), hours.count(8)) == (26, 24)
    assert [c.asset_class for c in contracts.items].count("equity") == 16


def test_a_symbol_missing_from_the_contracts_is_kept_unlisted(recorded: dict[str, Any]) -> None:
    rates_of(recorded)[:] = [made_row(recorded, "NEWUSDT", fundingRateInterval="2")]
    row = build(recorded)["NEWUSDT"]
    assert (row.symbol, row.interval_hours, row.mark_price, row.flags) == (
        "NEW/USDT:USDT",
        2,
        None,
        ("unlisted",),
    )


def test_without_contracts_the_row_is_unfiltered_and_without_tickers_prices_are_null(
    recorded: dict[str, Any],
) -> None:
    no_list = build({**recorded, name("contracts"): None})["BTCUSDT"]
    assert (no_list.symbol, no_list.interval_hours, no_list.mark_price) == ("BTC/USDT:USDT", 8, 80307.5)
    assert no_list.flags == ("unfiltered",)
    no_tickers = build({**recorded, name("tickers"): None})["BTCUSDT"]
    assert (no_tickers.mark_price, no_tickers.index_price, no_tickers.open_interest_usd) == (None, None, None)
    assert (no_tickers.volume_24h_usd, no_tickers.flags) == (None, ())


def test_wrong_shaped_secondary_lists_count_as_failed_calls(recorded: dict[str, Any]) -> None:
    result = bitget.build_rows(
        {**recorded, name("contracts"): envelope(), name("tickers"): {"code": "00000", "data": None}},
        OBSERVED,
    )
    assert result.unusable == {name("contracts"), name("tickers")}
    (row,) = result.rows
    assert (row.flags, row.mark_price) == (("unfiltered",), None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"symbolStatus": "maintain"}, "status"),
        ({"symbolStatus": "off"}, "status"),
        ({"symbolType": "delivery"}, "dated"),
    ],
)
def test_untradable_contracts_are_dropped_not_counted_bad(
    recorded: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    recorded[name("contracts")]["data"][0].update(change)  # BTCUSDT
    result = bitget.build_rows(recorded, OBSERVED)
    assert (result.rows, result.bad_rows) == ([], 0), reason


def test_contracts_without_status_or_type_are_kept(recorded: dict[str, Any]) -> None:
    btc = recorded[name("contracts")]["data"][0]
    del btc["symbolStatus"], btc["symbolType"]
    assert build(recorded)["BTCUSDT"].flags == ()


def test_usdc_and_coin_product_types_become_usdc_and_inverse_rows(recorded: dict[str, Any]) -> None:
    payloads = {
        **recorded,
        name("current-fund-rate", USDC): envelope(made_row(recorded, "BTCPERP")),
        name("current-fund-rate", COIN): envelope(made_row(recorded, "ETHUSD")),
        name("tickers", COIN): envelope(
            {
                "symbol": "ETHUSD",
                "markPrice": "2522",
                "indexPrice": "2523",
                "holdingAmount": "10",
                "quoteVolume": "5",
            }
        ),
    }
    rows = build(payloads)
    assert_row(rows["BTCPERP"], symbol="BTC/USDC:USDC", quote="USDC", settle="USDC", contract_type="linear")
    assert rows["BTCPERP"].flags == ("unfiltered",)  # no USDC contract list in these payloads
    assert_row(
        rows["ETHUSD"],
        symbol="ETH/USD:ETH",
        base="ETH",
        quote="USD",
        settle="ETH",
        contract_type="inverse",
        mark_price=2522.0,
        open_interest_usd=None,  # units of inverse holdingAmount unverified
        volume_24h_usd=None,
    )
    assert rows["BTCUSDT"].flags == ()


def test_a_failed_or_unusable_product_type_costs_only_its_rows(recorded: dict[str, Any]) -> None:
    coin = envelope(made_row(recorded, "ETHUSD"))
    failed_usdt = build({name("current-fund-rate", COIN): coin, name("current-fund-rate", USDT): None})
    assert list(failed_usdt) == ["ETHUSD"]
    result = bitget.build_rows(
        {**recorded, name("current-fund-rate", COIN): {"code": "00000", "data": None}}, OBSERVED
    )
    assert [row.native_symbol for row in result.rows] == ["BTCUSDT"]
    assert result.unusable == {name("current-fund-rate", COIN)}


@pytest.mark.parametrize("bad", [{"code": "00000", "data": []}, {"code": "00000", "data": {}}, "x"])
def test_an_empty_or_malformed_coin_futures_family_keeps_the_usdt_rows(
    recorded: dict[str, Any], bad: Any
) -> None:
    result = bitget.build_rows({**recorded, name("current-fund-rate", COIN): bad}, OBSERVED)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTCUSDT"], 0)
    assert result.unusable == {name("current-fund-rate", COIN)}
    with pytest.raises((BadPayload, EmptyPayload)):  # no product type left with rows: the bad one's error
        bitget.build_rows({name("current-fund-rate", COIN): bad}, OBSERVED)


def test_wrong_shapes_and_empty_lists(recorded: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        bitget.build_rows({**recorded, name("current-fund-rate"): {"code": "00000", "data": None}}, OBSERVED)
    with pytest.raises(BadPayload):
        bitget.build_rows({**recorded, name("current-fund-rate"): rates_of(recorded)}, OBSERVED)
    with pytest.raises(EmptyPayload):
        bitget.build_rows({**recorded, name("current-fund-rate"): envelope()}, OBSERVED)
    with pytest.raises(BadPayload):
        bitget.build_rows({name("current-fund-rate"): None}, OBSERVED)


def test_envelope_codes(recorded: dict[str, Any]) -> None:
    check = bitget.SPEC.check_envelope
    assert check("bitget", name("current-fund-rate"), recorded[name("current-fund-rate")]) is None
    with pytest.raises(ExchangeError) as raised:
        check(
            "bitget",
            name("contracts"),
            {"code": "400172", "msg": "Parameter verification failed", "data": None},
        )
    assert not isinstance(raised.value, RateLimited) and "400172" in str(raised.value)
    for code in ("429", "30014"):
        with pytest.raises(RateLimited):
            check("bitget", name("tickers"), {"code": code, "msg": "Too Many Requests", "data": None})
    with pytest.raises(BadPayload):
        check("bitget", name("tickers"), {"data": []})


def test_rate_beyond_the_symbols_cap_is_flagged_implausible(recorded: dict[str, Any]) -> None:
    rates_of(recorded)[0]["fundingRate"] = "-0.0031"  # minFundingRate -0.003
    assert build(recorded)["BTCUSDT"].flags == ("implausible_rate",)


def test_settled_rows_are_kept_and_flagged_stale(recorded: dict[str, Any]) -> None:
    assert build(recorded, SETTLEMENT)["BTCUSDT"].flags == ("stale",)


def test_missing_interval_everywhere_and_settlement_are_unknown(recorded: dict[str, Any]) -> None:
    made = made_row(recorded, "BTCUSDT")
    del made["fundingRateInterval"], made["nextUpdate"]
    rates_of(recorded)[:] = [made]
    row = build({**recorded, name("contracts"): None})["BTCUSDT"]
    assert (row.interval_hours, row.next_funding_time, row.apr) == (None, None, None)
    assert row.flags == ("interval_unknown", "unfiltered")


def test_malformed_rows_cost_only_themselves(recorded: dict[str, Any]) -> None:
    rates_of(recorded)[:] = [
        made_row(recorded, "ETHUSDT", fundingRate=""),
        made_row(recorded, "ADAUSDT", nextUpdate="soon"),
        made_row(recorded, "AAVEUSDT") | {"symbol": None},
        made_row(recorded, "BTCUSDT"),
    ]
    recorded[name("tickers")]["data"][0]["markPrice"] = "n/a"  # BTCUSDT's ticker: costs the ticker only
    result = bitget.build_rows(recorded, OBSERVED)
    assert [(r.native_symbol, r.mark_price) for r in result.rows] == [("BTCUSDT", None)]
    assert result.bad_rows == 4


# -- through the simulator -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_for(sim: Any, **kwargs: Any) -> VenueClient:
    spec = bitget.SPEC
    base_urls = {h: sim.venue_url(spec.id) for h in spec.hosts}
    return VenueClient(spec, RateGate(spec.id, spec.limits), base_urls=base_urls, **kwargs)


def test_one_cycle_through_the_simulator_stays_within_limits() -> None:
    from funding_finder.simulator import Simulator

    payloads: dict[str, Any] = {}
    with Simulator(latency_ms=0) as sim:
        client = client_for(sim)
        for endpoint in bitget.SPEC.endpoints:
            if endpoint.params["productType"] == USDT:
                payloads[endpoint.name] = client.fetch(endpoint)
            else:  # only USDT-FUTURES was ever recorded
                with pytest.raises(HttpClientError, match="404"):
                    client.fetch(endpoint)
                payloads[endpoint.name] = None
        result = bitget.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["bitget"]["violations"] == 0
    (btc,) = result.rows
    assert (btc.symbol, btc.funding_rate, btc.interval_hours, btc.mark_price) == (
        "BTC/USDT:USDT",
        0.000018,
        8,
        80307.5,
    )


def test_the_21st_call_in_a_second_is_a_429_the_client_reports_as_rate_limited() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0, clock=FakeClock()) as sim:
        url = sim.venue_url("bitget") + "/api/v2/mix/market/current-fund-rate"
        with requests.Session() as session:
            answers = [session.get(url, params={"productType": USDT}, timeout=10) for _ in range(21)]
        assert [a.status_code for a in answers] == [200] * 20 + [429]
        assert answers[0].content == load_bytes("bitget", RATE_FILE)
        assert (answers[-1].json()["code"], answers[-1].json()["data"]) == ("429", None)
        tickers = requests.get(
            sim.venue_url("bitget") + "/api/v2/mix/market/tickers", params={"productType": USDT}, timeout=10
        )
        assert tickers.status_code == 200  # another path has its own 20 per second
        with pytest.raises(RateLimited):
            client_for(sim, retries=0).fetch(bitget.SPEC.endpoint(name("current-fund-rate")))
        assert sim.stats()["venues"]["bitget"]["violations"] == 2


# -- arbitrary input -----------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
GOOD: dict[str, list[Any]] = {
    "symbol": ["BTCUSDT", "AAPLUSDT", "BTCPERP", "ETHUSD"],
    "fundingRate": ["0.000018", "-0.001054", "0"],
    "fundingRateInterval": ["8", "4", "1"],
    "nextUpdate": ["1787875200000"],
    "maxFundingRate": ["0.003"],
    "minFundingRate": ["-0.003"],
    "markPrice": ["80307.5"],
    "indexPrice": ["80349.06"],
    "holdingAmount": ["34447.5603999999348"],
    "quoteVolume": ["2759939325.90183"],
    "baseCoin": ["BTC", "1000BONK"],
    "quoteCoin": ["USDT", "USDC", "USD"],
    "symbolType": ["perpetual"],
    "symbolStatus": ["normal"],
    "fundInterval": ["8", "4"],
    "isRwa": ["NO", "YES"],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "symbol": ["", "USDT", None],
    "fundingRate": ["", "nan", "1e400", None, True],
    "fundingRateInterval": ["0", "-8", "", None],
    "nextUpdate": ["", "soon", 10**17, -(10**17), 2**70],
    "maxFundingRate": ["", "x"],
    "minFundingRate": [None],
    "markPrice": ["", "inf"],
    "indexPrice": [None],
    "holdingAmount": ["x"],
    "quoteVolume": [""],
    "baseCoin": ["", None],
    "quoteCoin": [""],
    "symbolType": ["delivery", None],
    "symbolStatus": ["maintain", None],
    "fundInterval": ["0", "x"],
    "isRwa": [None, True],
}
RATE_KEYS = ("symbol", "fundingRate", "fundingRateInterval", "nextUpdate", "maxFundingRate", "minFundingRate")
TICKER_KEYS = ("symbol", "markPrice", "indexPrice", "holdingAmount", "quoteVolume")
CONTRACT_KEYS = ("symbol", "baseCoin", "quoteCoin", "symbolType", "symbolStatus", "fundInterval", "isRwa")


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others` (one_of would merge repeated branches)."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


def payload_of(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    full = st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in keys}
    )
    partial = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    rows = st.lists(mostly(full, partial, JSON), min_size=1, max_size=5)
    return mostly(st.fixed_dictionaries({"code": st.just("00000"), "data": rows}), st.none(), JSON)


PAYLOADS = st.fixed_dictionaries(
    {
        name(kind, product): payload_of(keys)
        for product in (USDT, USDC, COIN)
        for kind, keys in (
            ("current-fund-rate", RATE_KEYS),
            ("tickers", TICKER_KEYS),
            ("contracts", CONTRACT_KEYS),
        )
    }
)


def rows_in(payload: Any) -> int:
    return len(payload["data"]) if isinstance(payload, dict) and isinstance(payload.get("data"), list) else 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=PAYLOADS)
def test_arbitrary_payloads_never_break_build_rows(payloads: dict[str, Any]) -> None:
    try:
        result = bitget.build_rows(copy.deepcopy(payloads), OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    assert len(result.rows) + result.bad_rows <= sum(rows_in(p) for p in payloads.values())
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.contract_type in ("linear", "inverse")
        if row.contract_type == "inverse":
            assert (row.open_interest_usd, row.volume_24h_usd) == (None, None)
        assert set(row.flags) <= set(FLAGS)
