"""OKX adapter against the recorded `instId=ANY` rows (2026-09-19), the single-instId bodies (2026 and
2024 schema), the instrument lists (nautilus fixture, 2022 full list) and the recorded 429 bodies.
Expected values are copied by hand from those files."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import okx
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.simulator.limits import LIMITS
from rows import assert_row

ANY_OBSERVED = datetime(2026, 9, 19, 13, 24, 5, tzinfo=UTC)
"""Capture of the `instId=ANY` rows: latest row `ts` 1789824245867."""


@pytest.fixture(scope="module")
def any_rates() -> dict[str, Any]:
    return load_json("okx", "public-funding-rate-instId-ANY.derived.json")


@pytest.fixture(scope="module")
def instruments() -> dict[str, Any]:
    return load_json("okx", "instruments-SWAP__nautilus.json")


@pytest.fixture(scope="module")
def rows(any_rates: dict[str, Any], instruments: dict[str, Any]) -> dict[str, FundingRate]:
    result = okx.build_rows({"funding-rate": any_rates, "instruments": instruments}, ANY_OBSERVED)
    assert result.bad_rows == 0
    return {row.native_symbol: row for row in result.rows}


def rate_row(payload: dict[str, Any], inst_id: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in payload["data"] if r["instId"] == inst_id))


def envelope(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": "0", "data": list(rows), "msg": ""}


def test_spec_is_the_documented_cycle() -> None:
    spec = okx.SPEC
    assert spec.hosts == {"api": "https://www.okx.com"}
    rates, lists = spec.endpoints
    assert (rates.name, rates.path, rates.role, dict(rates.params), rates.instrument) == (
        "funding-rate",
        "/api/v5/public/funding-rate",
        Role.RATES,
        {"instId": "ANY"},
        "ANY",
    )
    assert (lists.name, lists.path, lists.role, dict(lists.params)) == (
        "instruments",
        "/api/v5/public/instruments",
        Role.INSTRUMENTS,
        {"instType": "SWAP"},
    )
    rate_limit, list_limit = spec.limits
    assert (rate_limit.capacity, rate_limit.window_s, rate_limit.scope) == (10, 2.0, "instrument")
    assert [rate_limit.cost_of(e) for e in ("funding-rate", "funding-rate-history", "instruments")] == [
        1,
        1,
        0,
    ]
    assert (list_limit.capacity, list_limit.window_s, list_limit.cost_of("funding-rate")) == (20, 2.0, 0)
    assert spec.check_envelope is okx.check_envelope


def test_simulator_recordings_give_three_rows(rows: dict[str, FundingRate]) -> None:
    assert list(rows) == ["BTC-USDT-SWAP", "OKB-USDT-SWAP", "ONE-USDT-SWAP"]  # X-Perp FUTURES row dropped


def test_8h_row_listed(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["BTC-USDT-SWAP"],
        exchange="okx",
        symbol="BTC/USDT:USDT",
        native_symbol="BTC-USDT-SWAP",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0001,
        interval_hours=8,  # 1789862400000 - 1789833600000
        next_funding_time=datetime(2026, 9, 19, 16, 0, tzinfo=UTC),  # fundingTime 1789833600000
        predicted_rate=None,  # nextFundingRate ""
        mark_price=None,
        index_price=None,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=0.0001 * 1095,
        observed_at=ANY_OBSERVED,
        flags=(),
    )


def test_4h_row_unlisted(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["OKB-USDT-SWAP"],
        symbol="OKB/USDT:USDT",
        base="OKB",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.00005,
        interval_hours=4,  # 1789848000000 - 1789833600000
        next_funding_time=datetime(2026, 9, 19, 16, 0, tzinfo=UTC),
        predicted_rate=None,
        apr=0.00005 * 2190,
        flags=("unlisted",),  # the 3-row instrument fixture lacks it
    )


def test_1h_row_unlisted(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["ONE-USDT-SWAP"],
        symbol="ONE/USDT:USDT",
        base="ONE",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=-0.0018087460514744,
        interval_hours=1,  # 1789830000000 - 1789826400000
        next_funding_time=datetime(2026, 9, 19, 14, 0, tzinfo=UTC),  # fundingTime 1789826400000
        apr=-0.0018087460514744 * 8760,
        flags=("unlisted",),
    )


def test_rate_beyond_the_swaps_recorded_cap_is_flagged_implausible(
    any_rates: dict[str, Any], instruments: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    # Recorded BTC-USDT-SWAP: fundingRate 0.0001 inside maxFundingRate "0.00375" / minFundingRate
    # "-0.00375" (8 h, so far below the 4 %/h sanity bound: only the recorded cap can flag it).
    assert rows["BTC-USDT-SWAP"].flags == ()

    def btc_flags(rate: str) -> tuple[str, ...]:
        btc = rate_row(any_rates, "BTC-USDT-SWAP") | {"fundingRate": rate}
        (row,) = okx.build_rows(
            {"funding-rate": envelope(btc), "instruments": instruments}, ANY_OBSERVED
        ).rows
        return row.flags

    assert btc_flags("0.00375") == ()  # exactly at the cap
    assert btc_flags("-0.00375") == ()  # exactly at the floor
    assert btc_flags("0.0037501") == ("implausible_rate",)
    assert btc_flags("-0.0037501") == ("implausible_rate",)


def test_row_count_matches_an_independent_filter(
    any_rates: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    assert set(rows) == {r["instId"] for r in any_rates["data"] if r["instType"] == "SWAP"}
    assert "XAU-USD_UM_XPERP-310502" not in rows


def test_without_instruments_rows_are_unfiltered(any_rates: dict[str, Any]) -> None:
    result = okx.build_rows({"funding-rate": any_rates, "instruments": None}, ANY_OBSERVED)
    got = {row.native_symbol: row for row in result.rows}
    assert list(got) == ["BTC-USDT-SWAP", "OKB-USDT-SWAP", "ONE-USDT-SWAP"]
    assert all(row.flags == ("unfiltered",) for row in got.values())
    assert_row(got["BTC-USDT-SWAP"], symbol="BTC/USDT:USDT", contract_type="linear", interval_hours=8)


def test_single_inst_id_2026(instruments: dict[str, Any]) -> None:
    btc = load_json("okx", "public-funding-rate-BTC-USDT-SWAP__arb-chain-bot-20260827.json")
    observed = datetime(2026, 8, 27, 16, 39, 17, tzinfo=UTC)  # ts 1787848757734
    (row,) = okx.build_rows({"funding-rate": btc, "instruments": instruments}, observed).rows
    assert_row(
        row,
        symbol="BTC/USDT:USDT",
        funding_rate=-0.0000143909410096,
        interval_hours=8,
        next_funding_time=datetime(2026, 8, 28, 0, 0, tzinfo=UTC),  # fundingTime 1787875200000
        predicted_rate=None,
        apr=-0.0000143909410096 * 1095,
        flags=(),
    )
    eth = load_json("okx", "public-funding-rate-ETH-USDT-SWAP__tripwire-20260917.json")
    observed = datetime(2026, 9, 17, 20, 45, 9, tzinfo=UTC)  # ts 1789677909944
    (row,) = okx.build_rows({"funding-rate": eth, "instruments": instruments}, observed).rows
    assert_row(
        row,
        symbol="ETH/USDT:USDT",
        native_symbol="ETH-USDT-SWAP",
        base="ETH",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0000479222256351,
        interval_hours=8,
        next_funding_time=datetime(2026, 9, 18, 0, 0, tzinfo=UTC),  # fundingTime 1789689600000
        flags=(),
    )


def test_single_inst_id_2024_schema_with_the_2022_list() -> None:
    xrp = load_json("okx", "funding-rate-XRP-USDT-SWAP.real-20240109.json")  # no prevFundingTime
    old_list = load_json(
        "okx", "public-instruments-instType-SWAP__cryptofeed-20220513.json"
    )  # `uly`, no instFamily
    observed = datetime(2024, 1, 9, 12, 11, 2, tzinfo=UTC)  # ts 1704802262047
    (row,) = okx.build_rows({"funding-rate": xrp, "instruments": old_list}, observed).rows
    assert_row(
        row,
        symbol="XRP/USDT:USDT",
        native_symbol="XRP-USDT-SWAP",
        base="XRP",
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=0.0000728992871126,
        interval_hours=8,  # 1704844800000 - 1704816000000
        next_funding_time=datetime(2024, 1, 9, 16, 0, tzinfo=UTC),
        predicted_rate=None,
        observed_at=observed,
        flags=(),
    )
    (unfiltered,) = okx.build_rows({"funding-rate": xrp, "instruments": None}, observed).rows
    assert (unfiltered.symbol, unfiltered.flags) == ("XRP/USDT:USDT", ("unfiltered",))


def test_inverse_swap_from_the_list_and_from_its_id(
    any_rates: dict[str, Any], instruments: dict[str, Any]
) -> None:
    inverse = rate_row(any_rates, "BTC-USDT-SWAP") | {"instId": "BTC-USD-SWAP", "nextFundingRate": "0.00012"}
    for listing, flags in ((instruments, ()), (None, ("unfiltered",))):
        (row,) = okx.build_rows(
            {"funding-rate": envelope(inverse), "instruments": listing}, ANY_OBSERVED
        ).rows
        assert_row(
            row,
            symbol="BTC/USD:BTC",
            base="BTC",
            quote="USD",
            settle="BTC",
            contract_type="inverse",
            predicted_rate=0.00012,
            flags=flags,
        )


def test_instruments_not_live_are_dropped(any_rates: dict[str, Any], instruments: dict[str, Any]) -> None:
    suspended = copy.deepcopy(instruments)
    next(i for i in suspended["data"] if i["instId"] == "BTC-USDT-SWAP")["state"] = "suspend"
    result = okx.build_rows({"funding-rate": any_rates, "instruments": suspended}, ANY_OBSERVED)
    assert [r.native_symbol for r in result.rows] == ["OKB-USDT-SWAP", "ONE-USDT-SWAP"]


def test_malformed_rows_cost_only_themselves(any_rates: dict[str, Any], instruments: dict[str, Any]) -> None:
    empty_rate = rate_row(any_rates, "BTC-USDT-SWAP") | {"fundingRate": ""}
    missing = rate_row(any_rates, "OKB-USDT-SWAP")
    del missing["fundingTime"]
    text_rate = rate_row(any_rates, "ONE-USDT-SWAP") | {"fundingRate": "high"}
    good = rate_row(any_rates, "BTC-USDT-SWAP")
    payload = envelope(empty_rate, missing, text_rate, good)
    result = okx.build_rows({"funding-rate": payload, "instruments": instruments}, ANY_OBSERVED)
    assert [(r.native_symbol, r.funding_rate) for r in result.rows] == [("BTC-USDT-SWAP", 0.0001)]
    assert result.bad_rows == 3


def test_missing_next_funding_time_leaves_the_interval_unknown(any_rates: dict[str, Any]) -> None:
    row = rate_row(any_rates, "OKB-USDT-SWAP")
    del row["nextFundingTime"]
    (got,) = okx.build_rows({"funding-rate": envelope(row), "instruments": None}, ANY_OBSERVED).rows
    assert (got.interval_hours, got.apr, got.flags) == (None, None, ("interval_unknown", "unfiltered"))
    assert got.next_funding_time == datetime(2026, 9, 19, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("next_ms", ["1789833600000", "1789826400000"], ids=["equal", "before"])
def test_next_funding_time_not_after_funding_time_keeps_the_row_with_the_interval_unknown(
    any_rates: dict[str, Any], instruments: dict[str, Any], next_ms: str
) -> None:
    row = rate_row(any_rates, "BTC-USDT-SWAP") | {"nextFundingTime": next_ms}  # fundingTime 1789833600000
    result = okx.build_rows({"funding-rate": envelope(row), "instruments": instruments}, ANY_OBSERVED)
    assert result.bad_rows == 0  # a time comparison never drops a row
    (got,) = result.rows
    assert_row(
        got,
        symbol="BTC/USDT:USDT",
        funding_rate=0.0001,
        interval_hours=None,
        apr=None,
        next_funding_time=datetime(2026, 9, 19, 16, 0, tzinfo=UTC),
        flags=("interval_unknown",),
    )


def test_every_inverse_swap_of_the_2022_list_is_coin_settled(any_rates: dict[str, Any]) -> None:
    old_list = load_json("okx", "public-instruments-instType-SWAP__cryptofeed-20220513.json")
    parsed = okx.parse_instruments(old_list)
    inverse = [i for i in parsed.items if i.contract_type == "inverse"]
    assert (len(parsed.items), len(inverse), parsed.bad_rows) == (166, 40, 0)
    assert all(i.quote == "USD" and i.settle == i.base and i.inst_id.endswith("-USD-SWAP") for i in inverse)
    # TEST-MADE rate rows: the recorded BTC-USDT-SWAP `ANY` row under each inverse instId of the list.
    template = rate_row(any_rates, "BTC-USDT-SWAP")
    payload = envelope(*(template | {"instId": i.inst_id} for i in inverse))
    rows = {
        r.native_symbol: r
        for r in okx.build_rows({"funding-rate": payload, "instruments": old_list}, ANY_OBSERVED).rows
    }
    assert len(rows) == 40
    assert all(r.contract_type == "inverse" and r.symbol == f"{r.base}/USD:{r.base}" for r in rows.values())
    assert_row(
        rows["ETH-USD-SWAP"], symbol="ETH/USD:ETH", quote="USD", settle="ETH", interval_hours=8, flags=()
    )


def test_end_to_end_through_the_simulator_without_violations() -> None:
    with Simulator(latency_ms=0) as sim:
        client = VenueClient(
            okx.SPEC,
            RateGate(okx.SPEC.id, okx.SPEC.limits),
            base_urls={h: sim.venue_url(okx.SPEC.id) for h in okx.SPEC.hosts},
        )
        payloads = {e.name: client.fetch(e) for e in okx.SPEC.endpoints}
        result = okx.build_rows(payloads, ANY_OBSERVED)
        assert sim.stats()["venues"]["okx"]["violations"] == 0
    rows = {r.native_symbol: r for r in result.rows}
    assert list(rows) == ["BTC-USDT-SWAP", "OKB-USDT-SWAP", "ONE-USDT-SWAP"]
    assert_row(rows["BTC-USDT-SWAP"], symbol="BTC/USDT:USDT", funding_rate=0.0001, interval_hours=8, flags=())


def test_crossing_the_simulated_limit_is_the_recorded_429_and_rate_limited() -> None:
    sim_okx = LIMITS["okx"]
    pools = tuple(
        dataclasses.replace(p, capacity=1) if p.name == "funding-rate" else p for p in sim_okx.pools
    )
    with Simulator(latency_ms=0, limits={**LIMITS, "okx": dataclasses.replace(sim_okx, pools=pools)}) as sim:
        client = VenueClient(
            okx.SPEC, RateGate("okx", okx.SPEC.limits), base_urls={"api": sim.venue_url("okx")}, retries=0
        )
        rates = okx.SPEC.endpoint("funding-rate")
        assert client.fetch(rates)["code"] == "0"
        with pytest.raises(RateLimited) as raised:
            client.fetch(rates)
        assert sim.stats()["venues"]["okx"]["violations"] == 1
    assert "HTTP 429" in str(raised.value) and "50011" in str(raised.value)


def test_wrong_shapes(any_rates: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        okx.build_rows({"funding-rate": {"code": "0", "data": {"instId": "BTC-USDT-SWAP"}}}, ANY_OBSERVED)
    with pytest.raises(BadPayload):
        okx.build_rows({"funding-rate": any_rates["data"]}, ANY_OBSERVED)  # rows without the envelope
    with pytest.raises(EmptyPayload):
        okx.build_rows({"funding-rate": envelope()}, ANY_OBSERVED)
    unfiltered = okx.build_rows({"funding-rate": any_rates, "instruments": {"code": "0"}}, ANY_OBSERVED)
    assert unfiltered.unusable == {"instruments"}
    assert [row.flags for row in unfiltered.rows] == [("unfiltered",)] * 3


def test_check_envelope() -> None:
    with pytest.raises(RateLimited):
        okx.check_envelope("okx", "funding-rate", load_json("okx", "429.real-2024.json"))
    with pytest.raises(RateLimited):  # older form: numeric code
        okx.check_envelope("okx", "funding-rate", load_json("okx", "429.real-2021.json"))
    with pytest.raises(ExchangeError) as raised:
        okx.check_envelope(
            "okx", "funding-rate", {"code": "51000", "data": [], "msg": "Parameter instId error"}
        )
    assert not isinstance(raised.value, RateLimited)
    assert "51000" in str(raised.value)
    assert (
        okx.check_envelope(
            "okx", "funding-rate", load_json("okx", "public-funding-rate-instId-ANY.derived.json")
        )
        is None
    )
    with pytest.raises(BadPayload):
        okx.check_envelope("okx", "funding-rate", [])


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
    "instId": ["BTC-USDT-SWAP", "OKB-USDT-SWAP", "BTC-USD-SWAP", "ETH-USDC-SWAP"],
    "instType": ["SWAP"],
    "fundingRate": ["0.0001000000000000", "-0.0018087460514744", "0.0000000000000000"],
    "fundingTime": ["1789833600000", 1789833600000],
    "nextFundingTime": ["1789862400000", "1789848000000", ""],
    "nextFundingRate": ["", "0.00012"],
    "instFamily": ["BTC-USDT", "BTC-USD", "", None],
    "uly": ["BTC-USDT", "OKB-USDT"],
    "ctType": ["linear", "inverse"],
    "settleCcy": ["USDT", "BTC"],
    "state": ["live"],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "instId": ["XAU-USD_UM_XPERP-310502", "BTC-EUR-SWAP", "BTC-USDT", ""],
    "instType": ["FUTURES", None],
    "fundingRate": ["", "nan", "1e400", False],
    "fundingTime": ["", "soon", 10**17, -(10**17), 2**70],
    "nextFundingTime": ["1789833600000", "1", 2**70],
    "nextFundingRate": ["inf", "x"],
    "instFamily": ["BTC", "-"],
    "uly": [""],
    "ctType": ["", "quanto"],
    "settleCcy": ["", None],
    "state": ["suspend", "preopen"],
}


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others` (one_of would merge repeated branches)."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


def rows_of(*keys: str) -> st.SearchStrategy[list[Any]]:
    full = st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in keys}
    )
    partial = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    return st.lists(mostly(full, partial, JSON), min_size=1, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=mostly(
        st.fixed_dictionaries(
            {
                "data": rows_of(
                    "instId", "instType", "fundingRate", "fundingTime", "nextFundingTime", "nextFundingRate"
                )
            }
        ),
        JSON,
    ),
    listing=mostly(
        st.fixed_dictionaries(
            {"data": rows_of("instId", "instFamily", "uly", "ctType", "settleCcy", "state")}
        ),
        st.none(),
        st.none(),
        JSON,
    ),
)
def test_arbitrary_rows_never_break_build_rows(rates: Any, listing: Any) -> None:
    try:
        result = okx.build_rows({"funding-rate": rates, "instruments": listing}, ANY_OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    listed = 0 if listing is None or "instruments" in result.unusable else len(listing["data"])
    assert len(result.rows) + result.bad_rows <= len(rates["data"]) + listed  # one outcome a row
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.contract_type in ("linear", "inverse")
        assert row.predicted_rate is None or math.isfinite(row.predicted_rate)
        assert set(row.flags) <= set(FLAGS)


HISTORY = "funding-rate-history-BTC-USD-SWAP.docs-example.json"


def test_history_rows_field_by_field_store_the_realized_rate():
    parsed = okx.parse_history(load_json("okx", HISTORY), "BTC-USD-SWAP")
    assert parsed.bad_rows == 0 and len(parsed.items) == 2
    newer, older = parsed.items  # newest first
    # {"fundingRate": "0.0000746604960499", "fundingTime": "1703059200000",
    #  "realizedRate": "0.0000746572360545"}
    assert (newer.exchange, newer.native_symbol) == ("okx", "BTC-USD-SWAP")
    assert (newer.funding_time, newer.funding_rate) == (
        datetime(2023, 12, 20, 8, tzinfo=UTC),
        0.0000746572360545,
    )
    # {"fundingRate": "0.000227985782722", "fundingTime": "1703030400000",
    #  "realizedRate": "0.0002279755647389"}
    assert (older.funding_time, older.funding_rate) == (
        datetime(2023, 12, 20, tzinfo=UTC),
        0.0002279755647389,
    )
    assert (older.interval_hours, older.mark_price) == (None, None)


def test_history_drops_other_instruments_counts_malformed_rows_and_pages_by_after():
    payload = copy.deepcopy(load_json("okx", HISTORY))
    payload["data"][0]["instId"] = "BTC-USDT-SWAP"
    del payload["data"][1]["realizedRate"]
    assert okx.parse_history(payload, "BTC-USD-SWAP").bad_rows == 1
    with pytest.raises(BadPayload):
        okx.parse_history({"code": "0"}, "BTC-USD-SWAP")
    request = okx.SPEC.history.request("BTC-USD-SWAP", 1000, 2000)
    # `after` and `before` are exclusive: the range's own ends are asked for
    assert dict(request.params) == {
        "instId": "BTC-USD-SWAP",
        "after": "2001",
        "before": "999",
        "limit": "400",
    }
    assert okx.SPEC.history.paging == "backward" and request.instrument == "BTC-USD-SWAP"
