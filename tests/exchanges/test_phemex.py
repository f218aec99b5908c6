"""Phemex adapter against the docs' ticker examples (linear BTCUSDT, inverse BTCUSD, each wrapped in the
`/all` list: `*.derived.json`) and the 2021 product catalog (37 perpetuals, 30 spot pairs). Expected values
are copied by hand from those files; the docs' numbers are illustrative, used for units and types."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import phemex
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row

OBSERVED = datetime(2022, 10, 31, 13, 20, 13, tzinfo=UTC)
"""Just after the linear example's `timestamp` 1667222412794076700 ns (13:20:12.794Z)."""
CATALOG_2021 = "exchange-public-cfg-v2-products__cryptofeed-20210703.json"


@pytest.fixture
def linear() -> dict[str, Any]:
    return load_json("phemex", "md-v2-ticker-24hr-all.derived.json")


@pytest.fixture
def inverse() -> dict[str, Any]:
    return load_json("phemex", "md-ticker-24hr-all.derived.json")


@pytest.fixture
def catalog() -> dict[str, Any]:
    return load_json("phemex", CATALOG_2021)


def build(linear: Any, inverse: Any, products: Any, observed_at: datetime = OBSERVED):
    payloads = {"tickers-linear": linear, "tickers-inverse": inverse, "products": products}
    return phemex.build_rows(payloads, observed_at)


def rows_of(result) -> dict[str, FundingRate]:
    return {row.native_symbol: row for row in result.rows}


def product(catalog: dict[str, Any], symbol: str) -> dict[str, Any]:
    return next(p for p in catalog["data"]["products"] if p["symbol"] == symbol)


def v2_product(**changes: Any) -> dict[str, Any]:
    """A `perpProductsV2` entry with the fields the venue documents (values made up for the test)."""
    row = {
        "symbol": "BTCUSDT",
        "type": "PerpetualV2",
        "baseCurrency": "BTC",
        "quoteCurrency": "USDT",
        "settleCurrency": "USDT",
        "status": "Listed",
        "fundingInterval": 28800,
    }
    return row | changes


def test_spec_declares_both_ticker_lists_the_catalog_and_both_limits() -> None:
    spec = phemex.SPEC
    assert (spec.id, spec.hosts) == ("phemex", {"api": "https://api.phemex.com"})
    assert [(e.name, e.method, e.path, dict(e.params), e.role) for e in spec.endpoints] == [
        ("tickers-linear", "GET", "/md/v2/ticker/24hr/all", {}, Role.RATES),
        ("tickers-inverse", "GET", "/md/ticker/24hr/all", {}, Role.RATES),
        ("products", "GET", "/public/products", {}, Role.INSTRUMENTS),
    ]
    ip, others = spec.limits
    assert (ip.capacity, ip.window_s, ip.scope) == (5000, 300.0, "ip")
    assert (others.capacity, others.window_s, others.scope) == (100, 60.0, "ip")
    assert (
        {ip.cost_of(e.name) for e in spec.endpoints}
        == {others.cost_of(e.name) for e in spec.endpoints}
        == {1}
    )
    assert spec.workers == 3
    assert spec.check_envelope is phemex.check_envelope


def test_linear_row_field_by_field(linear, inverse, catalog) -> None:
    assert_row(
        rows_of(build(linear, inverse, catalog))["BTCUSDT"],
        exchange="phemex",
        symbol="BTC/USDT:USDT",
        native_symbol="BTCUSDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0001,  # fundingRateRr "0.0001"
        predicted_rate=0.0001,  # predFundingRateRr
        interval_hours=None,
        next_funding_time=None,  # not in the tickers; never derived
        mark_price=20737.788944,
        index_price=20737.09857143,
        open_interest_usd=0.0,  # openInterestRv "0" × mark
        volume_24h_usd=139029311.7517,  # turnoverRv
        asset_class="crypto",
        apr=None,
        observed_at=OBSERVED,
        flags=("interval_unknown", "unfiltered"),  # the 2021 catalog has no perpProductsV2 list
    )


def test_inverse_row_field_by_field(linear, inverse, catalog) -> None:
    assert_row(
        rows_of(build(linear, inverse, catalog))["BTCUSD"],
        symbol="BTC/USD:BTC",
        native_symbol="BTCUSD",
        base="BTC",
        multiplier=1,
        quote="USD",
        settle="BTC",
        contract_type="inverse",
        funding_rate=0.0001,  # fundingRate 10000 / 10^8
        predicted_rate=0.00007609,  # predFundingRate 7609 / 10^8
        interval_hours=None,  # the 2021 product has no fundingInterval
        next_funding_time=None,
        mark_price=8745.3092,  # markPrice 87453092 / 10^priceScale 4
        index_price=8745.0676,  # indexPrice 87450676 / 10^4
        open_interest_usd=7821141.0,  # 7821141 contracts × contractSize 1 USD
        volume_24h_usd=125287131.0,  # 125287131 contracts × 1 USD
        flags=("interval_unknown",),  # listed in products[]
    )


def test_the_recorded_catalog_lists_37_perpetuals_and_ignores_30_spot_pairs(catalog) -> None:
    parsed = phemex.parse_products(catalog)
    assert (len(catalog["data"]["products"]), len(parsed.items), parsed.bad_rows) == (67, 37, 0)
    by_symbol = {p.symbol: p for p in parsed.items}
    assert [p.symbol for p in parsed.items if p.contract_type == "inverse"] == ["BTCUSD"]
    eth = by_symbol["ETHUSD"]  # 2021: settled in USD, contract of 0.005 ETH
    assert (eth.base, eth.quote, eth.settle, eth.contract_type) == ("ETH", "USD", "USD", "linear")
    assert (eth.contract_size, eth.size_in_quote, eth.price_scale, eth.interval_hours) == (
        0.005,
        False,
        4,
        None,
    )
    btc = by_symbol["BTCUSD"]
    assert (btc.base, btc.settle, btc.contract_size, btc.size_in_quote) == ("BTC", "BTC", 1.0, True)


def test_legacy_usd_settled_contract_values_contracts_in_base_units(linear, inverse, catalog) -> None:
    eth = copy.deepcopy(inverse["result"][0]) | {
        "symbol": "ETHUSD",
        "markPrice": 30000000,
        "indexPrice": 29990000,
    }
    row = rows_of(build(None, {"error": None, "id": 0, "result": [eth]}, catalog))["ETHUSD"]
    assert_row(
        row,
        symbol="ETH/USD:USD",
        contract_type="linear",
        settle="USD",
        mark_price=3000.0,
        index_price=2999.0,
        open_interest_usd=7821141 * 0.005 * 3000.0,
        volume_24h_usd=125287131 * 0.005 * 3000.0,
        flags=("interval_unknown",),
    )


@pytest.mark.parametrize(("seconds", "hours"), [(3600, 1), (14400, 4), (28800, 8)])
def test_interval_comes_from_the_products_funding_interval_in_seconds(
    linear, inverse, catalog, seconds: int, hours: int
) -> None:
    product(catalog, "BTCUSD")["fundingInterval"] = seconds
    catalog["data"]["perpProductsV2"] = [v2_product(fundingInterval=seconds)]
    rows = rows_of(build(linear, inverse, catalog))
    for symbol in ("BTCUSD", "BTCUSDT"):
        assert_row(rows[symbol], interval_hours=hours, apr=0.0001 * 8760 / hours, flags=())


def test_an_interval_in_hours_is_not_read_as_seconds(linear, inverse, catalog) -> None:
    product(catalog, "BTCUSD")["fundingInterval"] = 8  # the legacy docs' unit
    assert rows_of(build(linear, inverse, catalog))["BTCUSD"].interval_hours is None


def test_linear_list_present_without_the_symbol_is_unlisted(linear, inverse, catalog) -> None:
    catalog["data"]["perpProductsV2"] = [v2_product(symbol="ETHUSDT", baseCurrency="ETH")]
    row = rows_of(build(linear, inverse, catalog))["BTCUSDT"]
    assert (row.symbol, row.flags) == ("BTC/USDT:USDT", ("interval_unknown", "unlisted"))


def test_inverse_list_present_without_the_symbol_is_unlisted_with_unknown_prices(
    linear, inverse, catalog
) -> None:
    catalog["data"]["products"] = [p for p in catalog["data"]["products"] if p["symbol"] != "BTCUSD"]
    row = rows_of(build(linear, inverse, catalog))["BTCUSD"]
    assert_row(row, symbol="BTC/USD:BTC", contract_type="inverse", funding_rate=0.0001, mark_price=None)
    assert (row.open_interest_usd, row.flags) == (None, ("interval_unknown", "unlisted"))


@pytest.mark.parametrize("status", ["Delisted", "Paused"])
def test_products_not_listed_drop_their_tickers(linear, inverse, catalog, status: str) -> None:
    product(catalog, "BTCUSD")["status"] = status
    catalog["data"]["perpProductsV2"] = [v2_product(status=status)]
    result = build(linear, inverse, catalog)
    assert (result.rows, result.bad_rows) == ([], 0)


def test_without_the_catalog_rows_are_unfiltered_and_scaled_prices_unknown(linear, inverse) -> None:
    rows = rows_of(build(linear, inverse, None))
    assert_row(
        rows["BTCUSDT"],
        symbol="BTC/USDT:USDT",
        mark_price=20737.788944,
        flags=("interval_unknown", "unfiltered"),
    )
    assert_row(
        rows["BTCUSD"],
        symbol="BTC/USD:BTC",
        contract_type="inverse",
        funding_rate=0.0001,
        mark_price=None,  # no priceScale without the product
        open_interest_usd=None,
        flags=("interval_unknown", "unfiltered"),
    )


def test_a_wrong_shaped_catalog_costs_only_itself(linear, inverse) -> None:
    for bad in ({"code": 0, "msg": "OK", "data": []}, {"code": 0, "data": {"currencies": []}}, []):
        result = build(linear, inverse, bad)
        assert result.unusable == {"products"}
        assert {row.flags for row in result.rows} == {("interval_unknown", "unfiltered")}
    empty = build(linear, inverse, {"code": 0, "data": {"products": [], "perpProductsV2": []}})
    assert empty.unusable == {"products"}


def test_schema_spellings_er_and_ep_are_read_like_the_docs_sample(linear, inverse, catalog) -> None:
    row = inverse["result"][0]
    for docs, schema in (("fundingRate", "fundingRateEr"), ("predFundingRate", "predFundingRateEr")):
        row[schema] = row.pop(docs)
    row["markEp"], row["indexEp"] = row.pop("markPrice"), row.pop("indexPrice")
    assert_row(
        rows_of(build(linear, inverse, catalog))["BTCUSD"],
        funding_rate=0.0001,
        predicted_rate=0.00007609,
        mark_price=8745.3092,
        index_price=8745.0676,
    )


def test_nanosecond_timestamps_are_exact_integers() -> None:
    assert phemex.from_ns(1583646442444219017) == datetime(2020, 3, 8, 5, 47, 22, 444219, tzinfo=UTC)
    assert phemex.from_ns("1667222412794076700") == datetime(2022, 10, 31, 13, 20, 12, 794076, tzinfo=UTC)
    parsed = phemex.parse_tickers(load_json("phemex", "md-ticker-24hr-all.derived.json"), "tickers-inverse")
    assert parsed.items[0].venue_time == datetime(2020, 3, 8, 5, 47, 22, 444219, tzinfo=UTC)
    for bad in (1.583646442444219e18, "1583646442444219017.0", True, 10**30):
        with pytest.raises(ValueError):
            phemex.from_ns(bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fundingRate", 0.0001),  # a real value where the venue sends an integer × 10^8
        ("fundingRate", "1e4"),
        ("fundingRate", None),
        ("markPrice", 8745.3092),
        ("timestamp", 1.583646442444219e18),  # a float: precision already lost
        ("symbol", ""),
    ],
)
def test_a_malformed_inverse_ticker_costs_that_row(linear, inverse, catalog, field: str, value: Any) -> None:
    inverse["result"][0][field] = value
    result = build(linear, inverse, catalog)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTCUSDT"], 1)


@pytest.mark.parametrize(
    ("field", "value"), [("fundingRateRr", ""), ("fundingRateRr", "n/a"), ("markPriceRp", "x")]
)
def test_a_malformed_linear_ticker_costs_that_row(linear, inverse, catalog, field: str, value: Any) -> None:
    linear["result"][0][field] = value
    result = build(linear, inverse, catalog)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTCUSD"], 1)


def test_digit_strings_are_accepted_as_scaled_integers(linear, inverse, catalog) -> None:
    inverse["result"][0]["fundingRate"] = "-10000"
    assert rows_of(build(linear, inverse, catalog))["BTCUSD"].funding_rate == -0.0001


def test_one_failed_ticker_list_leaves_the_other(linear, inverse, catalog) -> None:
    assert list(rows_of(build(None, inverse, catalog))) == ["BTCUSD"]
    assert list(rows_of(build(linear, None, catalog))) == ["BTCUSDT"]
    with pytest.raises(EmptyPayload):
        build(None, None, catalog)


@pytest.mark.parametrize(
    "payload",
    [
        load_json(
            "phemex", "md-v2-ticker-24hr-BTCUSDT.json"
        ),  # the single-symbol body: `result` is an object
        {"error": None, "id": 0},
        [],
        "x",
    ],
)
def test_wrong_shaped_ticker_lists_are_bad_payload(payload: Any, inverse) -> None:
    with pytest.raises(BadPayload):
        build(payload, None, None)
    result = build(payload, inverse, None)  # the other list keeps its rows
    assert ([row.native_symbol for row in result.rows], result.unusable) == (["BTCUSD"], {"tickers-linear"})


@pytest.mark.parametrize("bad", [{"error": None, "id": 0, "result": []}, {"error": None, "result": {}}, "x"])
def test_an_empty_or_malformed_inverse_list_keeps_the_linear_rows(linear, catalog, bad: Any) -> None:
    result = build(linear, bad, catalog)
    assert ([row.native_symbol for row in result.rows], result.bad_rows) == (["BTCUSDT"], 0)
    assert result.unusable == {"tickers-inverse"}


def test_empty_ticker_lists_are_empty_payload() -> None:
    empty = {"error": None, "id": 0, "result": []}
    with pytest.raises(EmptyPayload):
        build(empty, empty, None)


def test_envelope_errors_are_exchange_errors(linear, catalog) -> None:
    with pytest.raises(ExchangeError) as raised:
        phemex.check_envelope(
            "phemex", "tickers-linear", {"error": {"code": 6001, "message": "invalid"}, "id": 0}
        )
    assert "6001" in str(raised.value) and not isinstance(raised.value, RateLimited)
    with pytest.raises(ExchangeError):
        phemex.check_envelope("phemex", "products", {"code": 10500, "msg": "failed", "data": None})
    assert phemex.check_envelope("phemex", "tickers-linear", linear) is None
    assert phemex.check_envelope("phemex", "products", catalog) is None


def test_through_the_simulator_without_violations() -> None:
    mod = phemex
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            mod.SPEC,
            RateGate(mod.SPEC.id, mod.SPEC.limits),
            base_urls={h: sim.venue_url(mod.SPEC.id) for h in mod.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in mod.SPEC.endpoints}
        result = mod.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"][mod.SPEC.id]["violations"] == 0
    rows = rows_of(result)
    assert (rows["BTCUSD"].mark_price, rows["BTCUSD"].flags) == (8745.3092, ("interval_unknown",))
    assert rows["BTCUSDT"].funding_rate == 0.0001


def test_crossing_the_simulated_limit_answers_429_and_the_client_raises() -> None:
    real = LIMITS["phemex"]
    ip, others = real.pools
    small = {
        **LIMITS,
        "phemex": dataclasses.replace(real, pools=(ip, dataclasses.replace(others, capacity=2))),
    }
    with Simulator(latency_ms=0, limits=small) as sim:
        client = VenueClient(
            phemex.SPEC, RateGate("phemex", ()), base_urls={"api": sim.venue_url("phemex")}, retries=0
        )
        endpoint = phemex.SPEC.endpoint("tickers-linear")
        first = requests.get(sim.venue_url("phemex") + endpoint.path, timeout=10)
        client.fetch(endpoint)
        with pytest.raises(RateLimited):
            client.fetch(endpoint)
        assert sim.stats()["venues"]["phemex"]["violations"] == 1
    assert (first.headers["x-ratelimit-capacity"], first.headers["x-ratelimit-remaining"]) == ("2", "1")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def fields(**choices: tuple[Any, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: st.sampled_from(v) | JSON for k, v in choices.items()})


LINEAR_ROW = fields(
    symbol=("BTCUSDT", "ETHUSDC", "USDT", "BTC"),
    fundingRateRr=("0.0001", "-0.0375", "", "nan"),
    predFundingRateRr=("0.0001", None),
    markPriceRp=("20737.788944", "1e308"),
    openInterestRv=("1e308", "0"),
    timestamp=(1667222412794076700, 1.6e18, "1667222412794076700"),
)
INVERSE_ROW = fields(
    symbol=("BTCUSD", "ETHUSD", "USD"),
    fundingRate=(10000, -7609, "10000", 0.5),
    fundingRateEr=(10000,),
    markPrice=(87453092, 10**400),
    openInterest=(7821141, 1e308),
    volume=(125287131,),
    timestamp=(1583646442444219017, 10**30),
)
PRODUCT_ROW = fields(
    symbol=("BTCUSD", "ETHUSD", "BTCUSDT"),
    type=("Perpetual", "PerpetualV2", "Spot", None),
    quoteCurrency=("USD", "USDT"),
    settleCurrency=("BTC", "USD", "USDT", "ETH"),
    baseCurrency=("BTC", None),
    contractUnderlyingAssets=("USD", "ETH"),
    contractSize=(1.0, 0.005, "1 USD"),
    priceScale=(4, 99, -1, 4.0),
    fundingInterval=(28800, 8, 0, 1e308),
    status=("Listed", "Delisted", None),
)


def envelope(rows: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.fixed_dictionaries({"error": st.none(), "result": st.lists(rows, max_size=4) | JSON})
        | JSON
        | st.none()
    )


CATALOG = (
    st.fixed_dictionaries(
        {
            "code": st.just(0),
            "data": st.fixed_dictionaries(
                {},
                optional={
                    n: st.lists(PRODUCT_ROW | JSON, max_size=4) | JSON for n in ("products", "perpProductsV2")
                },
            )
            | JSON,
        }
    )
    | JSON
    | st.none()
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelope(LINEAR_ROW | JSON), envelope(INVERSE_ROW | JSON), CATALOG)
def test_arbitrary_payloads_never_break_build_rows(linear: Any, inverse: Any, products: Any) -> None:
    try:
        result = build(linear, inverse, products)
    except (BadPayload, EmptyPayload):
        return
    lists = {"tickers-linear": linear, "tickers-inverse": inverse}
    tickers = sum(len(p["result"]) for n, p in lists.items() if p is not None and n not in result.unusable)
    assert len(result.rows) <= tickers
    for row in result.rows:
        assert math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours >= 1
        assert row.next_funding_time is None
        assert row.contract_type in ("linear", "inverse")
        assert all(
            v is None or math.isfinite(v) for v in (row.mark_price, row.open_interest_usd, row.volume_24h_usd)
        )
        assert set(row.flags) <= set(FLAGS)
