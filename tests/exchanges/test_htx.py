"""HTX USDT-M adapter against the same-run recordings of 2026-08-27 (batch funding rate 17:21:53Z, contract
info 1.7 s earlier, 44 contracts each) and the full 2022 contract list (no `settlement_period`).
Expected values are copied by hand from those files."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges import htx
from funding_finder.exchanges.base import Role
from funding_finder.http import VenueClient
from funding_finder.model import FLAGS, FundingRate
from funding_finder.ratelimit import RateGate
from funding_finder.recordings import load_json
from rows import assert_row

BATCH = "linear-swap-api-v1-swap_batch_funding_rate__arb-chain-bot-20260827.trimmed.json"
INFO = "linear-swap-api-v1-swap_contract_info__arb-chain-bot-20260827.trimmed.json"
INFO_2022 = "linear-swap-api-v1-swap_contract_info__cryptofeed-20220219.json"
OBSERVED = datetime(2026, 8, 27, 17, 21, 53, 898000, tzinfo=UTC)  # batch `ts` 1787851313898
EIGHT_H = datetime(2026, 8, 28, 0, 0, tzinfo=UTC)  # funding_time 1787875200000
FOUR_H = datetime(2026, 8, 27, 20, 0, tzinfo=UTC)  # funding_time 1787860800000
ONE_H = datetime(2026, 8, 27, 18, 0, tzinfo=UTC)  # funding_time 1787853600000
SUSPENDED = ["VIRTUAL-USDT", "SEI-USDT", "SIREN-USDT", "CYBER-USDT"]  # contract_status 3, frozen rows


@pytest.fixture
def batch() -> dict[str, Any]:
    return load_json("htx", BATCH)


@pytest.fixture
def info() -> dict[str, Any]:
    return load_json("htx", INFO)


def build(batch: Any, info: Any, observed_at: datetime = OBSERVED) -> dict[str, FundingRate]:
    result = htx.build_rows({"swap_batch_funding_rate": batch, "swap_contract_info": info}, observed_at)
    return {row.native_symbol: row for row in result.rows}


@pytest.fixture
def rows(batch: dict[str, Any], info: dict[str, Any]) -> dict[str, FundingRate]:
    result = htx.build_rows({"swap_batch_funding_rate": batch, "swap_contract_info": info}, OBSERVED)
    assert result.bad_rows == 0
    return {row.native_symbol: row for row in result.rows}


def row_of(payload: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for r in payload["data"] if r["contract_code"] == code)


def test_spec_is_the_batch_rate_and_the_swap_list_under_one_shared_limit() -> None:
    spec = htx.SPEC
    assert (spec.id, spec.hosts, spec.workers) == ("htx", {"api": "https://api.hbdm.com"}, 2)
    rates, listing = spec.endpoints
    assert (rates.name, rates.path, rates.role, dict(rates.params)) == (
        "swap_batch_funding_rate",
        "/linear-swap-api/v1/swap_batch_funding_rate",
        Role.RATES,
        {},
    )
    assert (listing.name, listing.path, listing.role, dict(listing.params)) == (
        "swap_contract_info",
        "/linear-swap-api/v1/swap_contract_info",
        Role.INSTRUMENTS,
        {"business_type": "swap"},
    )
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("public", 240, 3.0, "ip")
    assert [limit.cost_of(e) for e in ("swap_batch_funding_rate", "swap_contract_info")] == [1, 1]
    assert spec.check_envelope is htx.check_envelope


def test_btc_8h_row_keeps_the_null_next_period_null(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["BTC-USDT"],
        exchange="htx",
        symbol="BTC/USDT:USDT",
        native_symbol="BTC-USDT",
        base="BTC",
        multiplier=1,
        quote="USDT",
        settle="USDT",
        contract_type="linear",
        funding_rate=-0.000109907596754317,
        interval_hours=8,  # settlement_period "8"
        next_funding_time=EIGHT_H,
        predicted_rate=None,  # estimated_rate null
        mark_price=None,
        index_price=None,
        open_interest_usd=None,
        volume_24h_usd=None,
        asset_class="crypto",
        apr=-0.000109907596754317 * 1095,
        observed_at=OBSERVED,
        flags=(),
    )


def test_trump_4h_row(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["TRUMP-USDT"],
        symbol="TRUMP/USDT:USDT",
        base="TRUMP",
        funding_rate=0.00005,
        interval_hours=4,
        next_funding_time=FOUR_H,
        apr=0.00005 * 2190,
        asset_class="crypto",
        flags=(),
    )


def test_1h_rows_including_the_index_labelled_stocks(rows: dict[str, FundingRate]) -> None:
    assert_row(
        rows["CASHCAT-USDT"],
        symbol="CASHCAT/USDT:USDT",
        funding_rate=0.0000125,
        interval_hours=1,
        next_funding_time=ONE_H,
        apr=0.0000125 * 8760,
        flags=(),
    )
    assert_row(
        rows["JP225-USDT"],
        symbol="JP225/USDT:USDT",
        base="JP225",
        funding_rate=0.00000625,
        interval_hours=1,
        next_funding_time=ONE_H,
        asset_class="equity",  # tradfi_labels ["Stocks"]: the venue's label, not the name
    )


def test_tradfi_labels_set_the_asset_class(rows: dict[str, FundingRate]) -> None:
    assert_row(rows["XAU-USDT"], funding_rate=0.0, apr=0.0, interval_hours=4, asset_class="commodity")
    assert rows["USOIL-USDT"].asset_class == "commodity"  # ["Commodities"]
    assert rows["NVDA-USDT"].asset_class == "equity"
    assert rows["MRK-USDT"].asset_class == "crypto"  # no labels at all
    classes = [row.asset_class for row in rows.values()]
    assert (classes.count("equity"), classes.count("commodity")) == (10, 3)


def test_suspended_contracts_are_dropped_by_status_and_the_rest_kept(
    batch: dict[str, Any], info: dict[str, Any], rows: dict[str, FundingRate]
) -> None:
    assert len(batch["data"]) == 44
    assert sorted(rows) == sorted(set(r["contract_code"] for r in batch["data"]) - set(SUSPENDED))
    assert len(rows) == 40
    hours = [row.interval_hours for row in rows.values()]
    assert (hours.count(8), hours.count(4), hours.count(1)) == (26, 12, 2)
    assert all(row.flags == () for row in rows.values())  # every kept settlement is after 17:21:53Z
    assert {row_of(info, code)["contract_status"] for code in SUSPENDED} == {3}


def test_without_the_list_every_row_is_kept_unfiltered_and_the_frozen_ones_stale(
    batch: dict[str, Any],
) -> None:
    rows = build(batch, None)
    assert len(rows) == 44
    assert_row(rows["BTC-USDT"], symbol="BTC/USDT:USDT", interval_hours=None, apr=None)
    assert rows["BTC-USDT"].flags == ("interval_unknown", "unfiltered")
    assert rows["CYBER-USDT"].next_funding_time == datetime(2026, 1, 8, 8, 0, tzinfo=UTC)
    assert rows["CYBER-USDT"].flags == ("interval_unknown", "stale", "unfiltered")


def test_the_2022_list_has_no_interval_and_lacks_newer_contracts(batch: dict[str, Any]) -> None:
    old = load_json("htx", INFO_2022)
    parsed = htx.parse_contract_info(old)
    assert len(parsed.items) == 121 and all(c.tradable and c.interval_hours is None for c in parsed.items)
    rows = build(batch, old)
    assert len(rows) == 44  # nothing the list could drop: the suspended four are not in it
    listed = [name for name, row in rows.items() if "unlisted" not in row.flags]
    assert len(listed) == 14 and rows["BTC-USDT"].flags == ("interval_unknown",)
    assert rows["SEI-USDT"].flags == ("interval_unknown", "stale", "unlisted")


def test_a_contract_missing_from_the_list_is_kept_unlisted(
    batch: dict[str, Any], info: dict[str, Any]
) -> None:
    info["data"] = [c for c in info["data"] if c["contract_code"] != "TRUMP-USDT"]
    row = build(batch, info)["TRUMP-USDT"]
    assert (row.symbol, row.interval_hours, row.flags) == (
        "TRUMP/USDT:USDT",
        None,
        ("interval_unknown", "unlisted"),
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"contract_status": 0}, "delisting"),
        ({"contract_status": 5}, "settling"),
        ({"business_type": "futures"}, "dated"),
    ],
)
def test_untradable_contracts_are_dropped_not_counted_bad(
    batch: dict[str, Any], info: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    row_of(info, "BTC-USDT").update(change)
    result = htx.build_rows({"swap_batch_funding_rate": batch, "swap_contract_info": info}, OBSERVED)
    assert "BTC-USDT" not in {r.native_symbol for r in result.rows}, reason
    assert (len(result.rows), result.bad_rows) == (39, 0)


def test_a_contract_without_status_is_kept(batch: dict[str, Any], info: dict[str, Any]) -> None:
    del row_of(info, "BTC-USDT")["contract_status"]
    assert build(batch, info)["BTC-USDT"].funding_rate == -0.000109907596754317


def test_a_published_next_period_rate_is_the_predicted_rate(
    batch: dict[str, Any], info: dict[str, Any]
) -> None:
    row_of(batch, "BTC-USDT")["estimated_rate"] = "0.000100000000000000"
    assert build(batch, info)["BTC-USDT"].predicted_rate == 0.0001


def test_malformed_rows_cost_only_themselves(batch: dict[str, Any], info: dict[str, Any]) -> None:
    row_of(batch, "BTC-USDT")["funding_rate"] = None
    row_of(batch, "ETH-USDT")["funding_time"] = "soon"
    row_of(batch, "TRUMP-USDT")["contract_code"] = ""
    row_of(info, "SOL-USDT")["trade_partition"] = None  # its rate row is then unlisted, not lost
    result = htx.build_rows({"swap_batch_funding_rate": batch, "swap_contract_info": info}, OBSERVED)
    rows = {r.native_symbol: r for r in result.rows}
    assert (len(rows), result.bad_rows) == (37, 4)
    assert rows["SOL-USDT"].flags == ("interval_unknown", "unlisted")


def test_wrong_shapes_and_empty_lists(batch: dict[str, Any], info: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        build({"status": "ok", "data": {"contract_code": "BTC-USDT"}}, info)
    with pytest.raises(BadPayload):
        build(batch["data"], info)
    with pytest.raises(EmptyPayload):
        build({"status": "ok", "data": [], "ts": 1787851313898}, info)
    for wrong in ({"status": "ok", "data": "x"}, {"status": "ok"}, {"status": "ok", "data": []}):
        result = htx.build_rows({"swap_batch_funding_rate": batch, "swap_contract_info": wrong}, OBSERVED)
        assert result.unusable == {"swap_contract_info"}
        assert len(result.rows) == 44 and all("unfiltered" in row.flags for row in result.rows)


def test_envelope_status(batch: dict[str, Any]) -> None:
    assert htx.check_envelope("htx", "swap_batch_funding_rate", batch) is None
    for limited in (
        {"status": "error", "err-code": 1032, "err-msg": "Maximum number of access attempts exceeded."},
        {"status": "error", "err_code": 1032, "err_msg": "Maximum number of access attempts exceeded."},
    ):
        with pytest.raises(RateLimited, match="1032"):
            htx.check_envelope("htx", "swap_batch_funding_rate", limited)
    with pytest.raises(ExchangeError) as raised:
        htx.check_envelope("htx", "swap_contract_info", {"status": "error", "err_code": 1014, "err_msg": "x"})
    assert not isinstance(raised.value, RateLimited) and "1014" in str(raised.value)
    with pytest.raises(BadPayload):
        htx.check_envelope("htx", "swap_batch_funding_rate", {"data": []})


# -- through the simulator -----------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def client_for(sim: Any, **kwargs: Any) -> VenueClient:
    spec = htx.SPEC
    base_urls = {h: sim.venue_url(spec.id) for h in spec.hosts}
    return VenueClient(spec, RateGate(spec.id, spec.limits), base_urls=base_urls, **kwargs)


def test_one_cycle_through_the_simulator_stays_within_limits() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0) as sim:
        client = client_for(sim)
        payloads = {e.name: client.fetch(e) for e in htx.SPEC.endpoints}
        result = htx.build_rows(payloads, OBSERVED)
        assert sim.stats()["venues"]["htx"]["violations"] == 0
    rows = {row.native_symbol: row for row in result.rows}
    assert len(rows) == 40
    assert (rows["CASHCAT-USDT"].interval_hours, rows["CASHCAT-USDT"].flags) == (1, ())


def test_the_241st_call_in_3_s_is_err_code_1032_the_client_reports_as_rate_limited() -> None:
    from funding_finder.simulator import Simulator

    with Simulator(latency_ms=0, clock=FakeClock()) as sim:
        base = sim.venue_url("htx")
        with requests.Session() as session:
            answers = [
                session.get(base + "/linear-swap-api/v1/swap_batch_funding_rate", timeout=10)
                for _ in range(240)
            ]
            assert all(a.json()["status"] == "ok" for a in answers)
            over = session.get(
                base + "/linear-swap-api/v1/swap_contract_info", params={"business_type": "swap"}, timeout=10
            )
        assert over.status_code == 200
        body = json.loads(over.content)
        assert (body["status"], body["err-code"]) == ("error", 1032)
        with pytest.raises(RateLimited):
            client_for(sim, retries=0).fetch(htx.SPEC.endpoint("swap_batch_funding_rate"))
        assert sim.stats()["venues"]["htx"]["violations"] == 2


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
    "contract_code": ["BTC-USDT", "JP225-USDT", "CYBER-USDT"],
    "funding_rate": ["-0.000109907596754317", "0E-18", "0.000050000000000000"],
    "funding_time": ["1787875200000", "1767859200000", None],
    "estimated_rate": [None, "0.0001"],
    "fee_asset": ["USDT"],
    "symbol": ["BTC", "JP225"],
    "trade_partition": ["USDT"],
    "settlement_period": ["8", "4", "1"],
    "contract_status": [1, 3],
    "business_type": ["swap"],
    "contract_type": ["swap"],
    "tradfi_labels": [[], ["Stocks"], ["Metals"]],
}
"""Recorded-looking values, drawn far more often than the traps and arbitrary JSON."""
TRAPS: dict[str, list[Any]] = {
    "contract_code": ["", "BTC-USDT-211203", "BTCUSDT", None],
    "funding_rate": ["", "nan", "1e400", None, True],
    "funding_time": ["", "soon", 10**17, -(10**17), 2**70],
    "estimated_rate": ["inf", "x"],
    "fee_asset": ["", 3],
    "symbol": ["", None],
    "trade_partition": [None],
    "settlement_period": ["0", "-8", "", "eight"],
    "contract_status": [0, "1", None],
    "business_type": ["futures", None],
    "contract_type": ["quarter"],
    "tradfi_labels": [None, "Stocks", [None]],
}
RATE_KEYS = ("contract_code", "funding_rate", "funding_time", "estimated_rate", "fee_asset")
INFO_KEYS = ("contract_code", "symbol", "trade_partition", "settlement_period", "contract_status")
INFO_KEYS += ("business_type", "contract_type", "tradfi_labels")


def mostly(likely: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`likely` eight times as often as each of `others` (one_of would merge repeated branches)."""
    return st.sampled_from([likely] * 8 + list(others)).flatmap(lambda strategy: strategy)


def rows_of(keys: tuple[str, ...]) -> st.SearchStrategy[list[Any]]:
    full = st.fixed_dictionaries(
        {key: mostly(st.sampled_from(GOOD[key]), st.sampled_from(TRAPS[key]), JSON) for key in keys}
    )
    partial = st.fixed_dictionaries({}, optional={key: JSON for key in keys})
    return st.lists(mostly(full, partial, JSON), min_size=1, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rates=mostly(st.fixed_dictionaries({"status": st.just("ok"), "data": rows_of(RATE_KEYS)}), JSON),
    listing=mostly(
        st.fixed_dictionaries({"status": st.just("ok"), "data": rows_of(INFO_KEYS)}), st.none(), JSON
    ),
)
def test_arbitrary_rows_never_break_build_rows(rates: Any, listing: Any) -> None:
    payloads = {"swap_batch_funding_rate": copy.deepcopy(rates), "swap_contract_info": copy.deepcopy(listing)}
    try:
        result = htx.build_rows(payloads, OBSERVED)
    except (BadPayload, EmptyPayload):
        return
    listed = 0 if listing is None or "swap_contract_info" in result.unusable else len(listing["data"])
    assert len(result.rows) + result.bad_rows <= len(rates["data"]) + listed
    for row in result.rows:
        assert isinstance(row.funding_rate, float) and math.isfinite(row.funding_rate)
        assert row.interval_hours is None or row.interval_hours > 0
        assert row.predicted_rate is None or math.isfinite(row.predicted_rate)
        assert set(row.flags) <= set(FLAGS)
