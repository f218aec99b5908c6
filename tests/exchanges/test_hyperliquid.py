"""Hyperliquid: `metaAndAssetCtxs` recording → rows, values copied by hand from the recording."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funding_finder.errors import BadPayload, EmptyPayload
from funding_finder.exchanges import hyperliquid
from funding_finder.exchanges.base import Role
from funding_finder.model import with_intervals
from funding_finder.recordings import load_json
from rows import by_native

RECORDING = "info-metaAndAssetCtxs__tripwire-mainnet.json"
# The body has no timestamp; its fixture commit's predictedFundings says HlPerp next funding 20:00Z on
# 2026-09-17, so it was captured during the 19:00Z hour (shared SOURCES.md, note 2).
OBSERVED = datetime(2026, 9, 17, 19, 40, tzinfo=UTC)
NEXT_HOUR = datetime(2026, 9, 17, 20, 0, tzinfo=UTC)


@pytest.fixture
def payload():
    return load_json("hyperliquid", RECORDING)


def build(payload, observed_at=OBSERVED):
    return hyperliquid.build_rows({"metaAndAssetCtxs": payload}, observed_at)


def test_spec_declares_one_post_info_call_weighing_20():
    spec = hyperliquid.SPEC
    assert spec.id == "hyperliquid"
    assert spec.hosts == {"api": "https://api.hyperliquid.xyz"}
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.path, endpoint.method, endpoint.role) == (
        "metaAndAssetCtxs",
        "/info",
        "POST",
        Role.RATES,
    )
    assert endpoint.json_body == {"type": "metaAndAssetCtxs"}
    (limit,) = spec.limits
    assert (limit.name, limit.capacity, limit.window_s, limit.scope) == ("weight", 1200, 60.0, "ip")
    assert limit.cost_of("metaAndAssetCtxs") == 20
    assert limit.cost_of("predictedFundings") == 20
    assert limit.cost_of("anything") == 20


def test_btc_row_field_by_field(payload):
    btc = by_native(build(payload))["BTC"]
    assert btc.exchange == "hyperliquid"
    assert btc.symbol == "BTC/USDC:USDC"
    assert (btc.base, btc.multiplier, btc.quote, btc.settle) == ("BTC", 1, "USDC", "USDC")
    assert btc.contract_type == "linear"
    assert btc.funding_rate == 0.0000125
    assert btc.interval_hours == 1
    assert btc.next_funding_time == NEXT_HOUR
    assert btc.predicted_rate is None
    assert btc.mark_price == 76519.0
    assert btc.index_price == 76550.1
    assert btc.open_interest_usd == pytest.approx(35726.7251 * 76519.0)
    assert btc.volume_24h_usd == pytest.approx(1930831103.1320991516)
    assert btc.asset_class == "crypto"
    assert btc.apr == pytest.approx(0.0000125 * 8760)
    assert btc.observed_at == OBSERVED
    assert btc.flags == ()


def test_kpepe_is_a_thousand_pepe(payload):
    kpepe = by_native(build(payload))["kPEPE"]
    assert kpepe.symbol == "kPEPE/USDC:USDC"
    assert (kpepe.base, kpepe.multiplier, kpepe.quote, kpepe.settle) == ("PEPE", 1000, "USDC", "USDC")
    assert kpepe.funding_rate == 0.0000125
    assert kpepe.interval_hours == 1
    assert kpepe.next_funding_time == NEXT_HOUR
    assert kpepe.mark_price == 0.003642
    assert kpepe.index_price == 0.003639
    # openInterest is in listed units (kPEPE), so it is priced with the kPEPE mark.
    assert kpepe.open_interest_usd == pytest.approx(6558281504.0 * 0.003642)
    assert kpepe.volume_24h_usd == pytest.approx(13297478.4958269987)
    assert kpepe.flags == ()


def test_negative_funding_row(payload):
    atom = by_native(build(payload))["ATOM"]
    assert atom.symbol == "ATOM/USDC:USDC"
    assert (atom.base, atom.multiplier) == ("ATOM", 1)
    assert atom.funding_rate == -0.000017044
    assert atom.apr == pytest.approx(-0.000017044 * 8760)
    assert atom.mark_price == 1.5616
    assert atom.index_price == 1.564
    assert atom.open_interest_usd == pytest.approx(1575896.8799999999 * 1.5616)
    assert atom.volume_24h_usd == pytest.approx(1071398.79174)


def test_delisted_assets_are_absent_and_the_rest_counted(payload):
    result = build(payload)
    universe = payload[0]["universe"]
    listed = [asset["name"] for asset in universe if not asset.get("isDelisted")]
    assert len(universe) == 234
    assert len(listed) == 178
    assert [row.native_symbol for row in result.rows] == listed
    assert result.bad_rows == 0
    assert "kDOGS" not in by_native(result)  # isDelisted: true in the recording


@pytest.mark.parametrize(
    ("observed_at", "expected"),
    [
        (datetime(2026, 9, 17, 19, 40, tzinfo=UTC), datetime(2026, 9, 17, 20, 0, tzinfo=UTC)),
        (datetime(2026, 9, 17, 19, 59, 59, 999999, tzinfo=UTC), datetime(2026, 9, 17, 20, 0, tzinfo=UTC)),
        # exactly on the hour: that period has just settled, the next one settles an hour later
        (datetime(2026, 9, 17, 20, 0, tzinfo=UTC), datetime(2026, 9, 17, 21, 0, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_settlement_is_the_next_full_hour_after_observation(payload, observed_at, expected):
    rows = build(payload, observed_at).rows
    assert {row.next_funding_time for row in rows} == {expected}
    assert all(row.flags == () for row in rows)  # a derived time is never stale


def small_payload(payload, count=5):
    meta, ctxs = copy.deepcopy(payload)
    return [{"universe": meta["universe"][:count]}, ctxs[:count]]


def test_malformed_rows_are_skipped_and_counted(payload):
    bad = small_payload(payload, 6)  # BTC, ETH, ATOM, MATIC (delisted), DYDX, SOL
    bad[1][0]["funding"] = ""
    del bad[1][1]["funding"]
    bad[1][2]["funding"] = "abc"
    result = build(bad)
    assert result.bad_rows == 3  # MATIC is dropped on purpose, not counted as malformed
    assert [row.native_symbol for row in result.rows] == ["DYDX", "SOL"]
    assert [row.funding_rate for row in result.rows] == [0.0000125, 0.0000125]


def test_missing_name_costs_that_row_only(payload):
    bad = small_payload(payload, 3)
    del bad[0]["universe"][0]["name"]
    result = build(bad)
    assert result.bad_rows == 1
    assert [row.native_symbol for row in result.rows] == ["ETH", "ATOM"]


def test_missing_optional_prices_leave_nulls(payload):
    bad = small_payload(payload, 1)
    del bad[1][0]["markPx"]
    (btc,) = build(bad).rows
    assert btc.mark_price is None
    assert btc.open_interest_usd is None
    assert btc.index_price == 76550.1


@pytest.mark.parametrize(
    "shape",
    [
        {"universe": []},
        "error",
        None,
        [],
        [{"universe": []}],
        [{"universe": {}}, []],
        [{"no_universe": []}, []],
        [[], []],
    ],
)
def test_wrong_shape_is_bad_payload(shape):
    with pytest.raises(BadPayload):
        hyperliquid.parse_meta_and_asset_ctxs(shape)


def test_universe_and_ctx_length_mismatch_is_bad_payload(payload):
    meta, ctxs = payload
    with pytest.raises(BadPayload, match="234 universe entries but 233"):
        build([meta, ctxs[:-1]])


def test_empty_universe_is_empty_payload():
    with pytest.raises(EmptyPayload):
        build([{"universe": []}, []])


def test_no_envelope_check_for_hyperliquid(payload):
    assert hyperliquid.SPEC.check_envelope("hyperliquid", "metaAndAssetCtxs", payload) is None


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
NUMBERISH = JSONISH | st.sampled_from(["0.0000125", "-0.5", "", "abc", "NaN", "inf", "1e400", "0.0"])
META = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["BTC", "kPEPE", "", "k", "1000"]) | JSONISH,
            "isDelisted": JSONISH,
        },
    )
    | JSONISH
)
CTX = (
    st.fixed_dictionaries(
        {},
        optional={key: NUMBERISH for key in ("funding", "markPx", "oraclePx", "openInterest", "dayNtlVlm")},
    )
    | JSONISH
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(META, CTX), max_size=6) | JSONISH)
def test_arbitrary_json_never_breaks_build_rows(data):
    if isinstance(data, list) and all(isinstance(pair, tuple) for pair in data):
        payload = [{"universe": [meta for meta, _ in data]}, [ctx for _, ctx in data]]
        count = len(data)
    else:
        payload, count = data, None
    try:
        result = build(payload)
    except (BadPayload, EmptyPayload):
        return
    assert all(math.isfinite(row.funding_rate) for row in result.rows)
    assert all(row.interval_hours == 1 and row.next_funding_time == NEXT_HOUR for row in result.rows)
    if count is not None:
        assert len(result.rows) + result.bad_rows <= count


HISTORY = "info-fundingHistory-BTC__hl-python-sdk.json"


def test_history_rows_field_by_field():
    recorded = load_json("hyperliquid", HISTORY)
    parsed = hyperliquid.parse_history(recorded, "BTC")
    assert parsed.bad_rows == 0 and len(parsed.items) == len(recorded) == 1038
    first, last = parsed.items[0], parsed.items[-1]
    # {"coin": "BTC", "fundingRate": "-0.00061334", "premium": "-0.00091334", "time": 1683849600048}
    assert (first.exchange, first.native_symbol) == ("hyperliquid", "BTC")
    assert first.funding_time == datetime(2023, 5, 12, tzinfo=UTC)  # 48 ms of jitter rounded off
    assert (first.funding_rate, first.interval_hours, first.mark_price) == (-0.00061334, None, None)
    # the last row: {"coin": "BTC", "fundingRate": "0.0000125", ..., "time": 1689627600065}
    assert (last.funding_time, last.funding_rate) == (datetime(2023, 7, 17, 21, tzinfo=UTC), 0.0000125)
    # every row, against the recording read independently
    assert [(round(e.funding_time.timestamp()), e.funding_rate) for e in parsed.items] == [
        (round(row["time"] / 1000), float(row["fundingRate"])) for row in recorded
    ]


def test_history_intervals_come_from_each_rows_neighbours():
    events = with_intervals(hyperliquid.parse_history(load_json("hyperliquid", HISTORY), "BTC").items)
    by_time = {e.funding_time: e.interval_hours for e in events}
    assert by_time[datetime(2023, 5, 12, 8, tzinfo=UTC)] == 8.0  # 8-hourly until 2023-06-08
    assert by_time[datetime(2023, 6, 8, 0, tzinfo=UTC)] == 8.0
    assert by_time[datetime(2023, 6, 8, 1, tzinfo=UTC)] == 1.0  # hourly after
    assert by_time[datetime(2023, 7, 2, 21, tzinfo=UTC)] == 2.0  # the 20:00 settlement is not recorded
    # a late settlement keeps its own time (`"time": 1684830233040`), never moved onto the 8 h grid
    assert by_time[datetime(2023, 5, 23, 8, 23, 53, tzinfo=UTC)] == 8.4
    assert by_time[datetime(2023, 5, 23, 16, tzinfo=UTC)] == 7.6
    hours = [e.interval_hours for e in events[1:]]
    assert (hours.count(8.0), hours.count(1.0), hours.count(2.0), len(hours)) == (79, 955, 1, 1037)


def test_history_drops_other_coins_counts_malformed_rows_and_posts_a_body():
    rows = copy.deepcopy(load_json("hyperliquid", HISTORY))[:3]
    rows[0]["coin"] = "ETH"
    del rows[1]["time"]
    parsed = hyperliquid.parse_history(rows, "BTC")
    assert parsed.bad_rows == 1 and [e.funding_rate for e in parsed.items] == [-0.00081798]
    with pytest.raises(BadPayload):
        hyperliquid.parse_history({"error": "x"}, "BTC")
    request = hyperliquid.SPEC.history.request("BTC", 1000, 2000)
    assert (request.method, request.path, request.params) == ("POST", "/info", {})
    assert request.json_body == {"type": "fundingHistory", "coin": "BTC", "startTime": 1000, "endTime": 2000}
    # 20 per call plus 1 per 20 rows of a full 500-row page
    assert hyperliquid.SPEC.limits[0].cost_of(request.name) == 45
