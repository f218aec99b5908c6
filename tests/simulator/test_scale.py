"""Scaled recordings: N contracts per venue, recorded rows unchanged, clones synthetic and normal rows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from funding_finder.cli import main
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.exchanges.base import Endpoint
from funding_finder.model import FundingRate
from funding_finder.recordings import load_bytes
from funding_finder.simulator import Simulator
from funding_finder.simulator.routes import HANDLERS, ROUTES, find_handler, find_route
from funding_finder.simulator.scale import (
    MAX_CLONES,
    REALISTIC,
    SCALES,
    SYNTHETIC_ID_BASE,
    mark,
    marker,
    parse_scale,
    recorded_counts,
    recorded_documents,
    scaled,
    templates,
)
from funding_finder.store import Store

OBSERVED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)  # one pinned observation for every build
CLONE = re.compile(r"SIM\d{5}")
EXTRA = 7  # clones per venue in the offline tests: more than most venues' templates, so they wrap
RECORDED = {key: load_bytes(key.venue, name) for key, name in ROUTES.items()}
COUNTS = recorded_counts()


def served(venue: str, endpoint: Endpoint, recordings: dict, handlers: dict) -> Any:
    """What the simulator would answer to this call (decoded), None for a non-200 or no recording."""
    params = dict(endpoint.params) if endpoint.method == "GET" else dict(endpoint.json_body or {})
    handler = find_handler(venue, endpoint.method, endpoint.path, handlers)
    reply = handler(params) if handler is not None else None
    if reply is not None:  # a handler that does not answer leaves the request to the recorded routes
        return json.loads(reply.body) if reply.status == 200 else None
    key = find_route(venue, endpoint.method, endpoint.path, params)
    return None if key is None else json.loads(recordings[key])


def build(venue: str, counts: dict[str, int]) -> dict[str, FundingRate]:
    """One cycle's rows of `venue` built from the (scaled) recordings, keyed by native symbol."""
    recordings, handlers = scaled(RECORDED, HANDLERS, counts)
    module = VENUES[venue]
    payloads: dict[str, Any] = {e.name: served(venue, e, recordings, handlers) for e in module.SPEC.endpoints}
    for endpoint in module.SPEC.per_instrument(payloads, 0) if module.SPEC.per_instrument else ():
        answer = served(venue, endpoint, recordings, handlers)
        if answer is not None:
            payloads.setdefault(endpoint.name, {})[endpoint.instrument] = answer
    result = module.build_rows(payloads, OBSERVED)
    rows = {row.native_symbol: row for row in result.rows}
    assert len(rows) == len(result.rows), "native symbols are unique"
    return rows


def template_of(native_symbol: str) -> tuple[int, str]:
    found = CLONE.search(native_symbol)
    assert found is not None, native_symbol
    return int(found.group()[3:]), native_symbol[: found.start()] + native_symbol[found.end() :]


# -- what a scaled venue serves --------------------------------------------------------------------------


@pytest.mark.parametrize("venue", list(SCALES))
def test_a_scaled_venue_lists_n_contracts_in_every_joined_list(venue):
    count = COUNTS[venue] + EXTRA
    recordings, _ = scaled(RECORDED, HANDLERS, {venue: count})
    documents = {key: json.loads(recordings[key]) for key in recorded_documents(venue)}
    assert len(templates(SCALES[venue], documents)) == count
    for rows in (SCALES[venue].rates, *SCALES[venue].joined):
        before = recorded_documents(venue)[rows.route]
        after = documents[rows.route]
        for step in rows.at:
            before, after = before[step], after[step]
        assert after[: len(before)] == before, "recorded rows first, as recorded"
        if rows.required:
            assert len(after) == len(before) + EXTRA


def test_unscaled_and_unnamed_venues_keep_their_recorded_bytes():
    recordings, _ = scaled(RECORDED, HANDLERS, {"okx": 50})
    changed = {key for key in RECORDED if recordings[key] != RECORDED[key]}
    assert {key.venue for key in changed} == {"okx"}
    assert scaled(RECORDED, HANDLERS, {}) == (RECORDED, HANDLERS)
    # no more contracts than the recorded templates: nothing to add, the venue stays as recorded
    assert scaled(RECORDED, HANDLERS, {"okx": 1, "binance": COUNTS["binance"]}) == (RECORDED, HANDLERS)


def test_clones_carry_the_marker_in_every_name_field_and_a_synthetic_id():
    recordings, _ = scaled(RECORDED, HANDLERS, {"lighter": 3, "binance": COUNTS["binance"] + 2})
    books = json.loads(recordings[SCALES["lighter"].joined[0].route])["order_book_details"]
    rates = json.loads(recordings[SCALES["lighter"].rates.route])["funding_rates"]
    assert [(b["symbol"], b["market_id"]) for b in books[-2:]] == [
        ("SIM00001ETH", SYNTHETIC_ID_BASE + 1),
        ("SIM00002ETH", SYNTHETIC_ID_BASE + 2),
    ]
    assert [(r["symbol"], r["market_id"]) for r in rates[-2:]] == [
        (b["symbol"], b["market_id"]) for b in books[-2:]
    ]
    info = json.loads(recordings[SCALES["binance"].joined[0].route])["symbols"][-1]
    template = templates(SCALES["binance"], recorded_documents("binance"))[1]
    assert info["symbol"] == "SIM00002" + template
    assert info["pair"] == "SIM00002" + template
    assert info["baseAsset"].startswith("SIM00002") and template.startswith(info["baseAsset"][8:])


def test_mark_inserts_after_the_venues_lead():
    assert marker(12) == "SIM00012"
    assert mark("tBTCF0:USTF0", 3, "t") == "tSIM00003BTCF0:USTF0"
    assert mark("PERP_BTC_USDT", 3, "PERP_") == "PERP_SIM00003BTC_USDT"
    assert mark("XBT:USD", 3, r"P[FI]_") == "SIM00003XBT:USD"
    assert mark(42, 3) == 42


# -- what the adapters make of it --------------------------------------------------------------------------


@pytest.mark.parametrize("venue", list(SCALES))
def test_recorded_rows_parse_to_exactly_the_unscaled_rows(venue):
    plain = build(venue, {})
    grown = build(venue, {venue: COUNTS[venue] + EXTRA})
    recorded = {symbol: row for symbol, row in grown.items() if not CLONE.search(symbol)}
    assert plain
    assert recorded == plain


@pytest.mark.parametrize("venue", list(SCALES))
def test_clones_are_synthetic_and_parse_like_their_template(venue):
    plain = build(venue, {})
    grown = build(venue, {venue: COUNTS[venue] + EXTRA})
    clones = {symbol: row for symbol, row in grown.items() if CLONE.search(symbol)}
    assert len(clones) == EXTRA
    # not `multiplier`: the marker hides a template's 1000 prefix, so a 1000PEPE clone is a plain contract
    same = ("funding_rate", "interval_hours", "next_funding_time", "predicted_rate", "mark_price")
    same += ("index_price", "quote", "settle", "contract_type", "apr", "flags")
    for symbol, clone in clones.items():
        k, template_symbol = template_of(symbol)
        template = plain[template_symbol]
        assert 1 <= k <= EXTRA
        assert clone.base.startswith(marker(k)), (clone.base, template.base)
        assert marker(k) in clone.symbol
        for name in same:
            if name == "settle" and template.contract_type == "inverse":  # settled in the (clone's) base
                assert clone.settle.startswith(marker(k)), (venue, symbol)
                continue
            assert getattr(clone, name) == getattr(template, name), (venue, symbol, name)
        assert clone.exchange == venue


# -- the running simulator ---------------------------------------------------------------------------------


def test_scaled_okx_answers_its_contracts_in_bulk_and_one_by_one():
    with Simulator(latency_ms=0, scale={"okx": 300}) as sim:
        base = sim.venue_url("okx") + "/api/v5/public/"

        def funding(inst_id: str) -> requests.Response:
            return requests.get(base + "funding-rate", params={"instId": inst_id}, timeout=10)

        bulk = funding("ANY").json()["data"]
        listed = requests.get(base + "instruments", params={"instType": "SWAP"}, timeout=10).json()["data"]
        clone = funding("SIM00299BTC-USDT-SWAP").json()
        recorded = funding("BTC-USDT-SWAP")
        okb = funding("OKB-USDT-SWAP").json()["data"]
        unknown = funding("SIM00300BTC-USDT-SWAP").json()
        assert sim.stats()["total_violations"] == 0
    assert len(bulk) == 4 + 299 and len(listed) == 3 + 299
    assert {row["instId"] for row in listed} - {row["instId"] for row in bulk} == {
        "BTC-USD-SWAP",
        "ETH-USDT-SWAP",
    }
    assert clone["code"] == "0" and clone["data"] == [bulk[-1]]
    assert bulk[-1]["instId"] == "SIM00299BTC-USDT-SWAP"
    assert recorded.content == load_bytes(
        "okx", "public-funding-rate-BTC-USDT-SWAP__arb-chain-bot-20260827.json"
    )
    assert okb == [row for row in bulk if row["instId"] == "OKB-USDT-SWAP"]
    assert unknown == {"code": "51000", "data": [], "msg": "Parameter instId error"}


def test_scaled_cryptocom_answers_a_clones_valuations_with_its_templates():
    path = "/exchange/v1/public/get-valuations"
    with Simulator(latency_ms=0, scale={"cryptocom": 5}) as sim:

        def valuations(name: str) -> requests.Response:
            params = {"instrument_name": name, "valuation_type": "estimated_funding_rate"}
            return requests.get(sim.venue_url("cryptocom") + path, params=params, timeout=10)

        clone = valuations("SIM00004BTCUSD-PERP").json()
        template = valuations("BTCUSD-PERP")
    assert (
        template.content
        == RECORDED[
            find_route(
                "cryptocom",
                "GET",
                path,
                {"instrument_name": "BTCUSD-PERP", "valuation_type": "estimated_funding_rate"},
            )
        ]
    )
    assert clone["result"]["instrument_name"] == "SIM00004BTCUSD-PERP"
    assert clone["result"]["data"] == template.json()["result"]["data"]


def test_a_cycle_against_a_scaled_simulator_stores_n_rows_with_no_violation(tmp_path: Path):
    counts = {"gate": 600, "kucoin": 500, "cryptocom": 120, "okx": 300}
    venues = list(counts)
    with Simulator(latency_ms=0, scale=counts) as sim:
        store = Store(str(tmp_path / "scaled.db"))
        config = CollectorConfig(base_urls={venue: sim.venue_url(venue) for venue in venues})
        result = Collector(store, venues, config).run_cycle()
        stats = sim.stats()
        stored = {venue: len(store.latest_rates([venue])) for venue in venues}
        store.close()
    rows = {run.exchange: run.rows for run in result.runs}
    unlisted_okx = 2  # OKB and ONE: in the recorded funding list, not in the recorded instrument list
    assert stored == rows == {"gate": 600, "kucoin": 500, "cryptocom": 120, "okx": 300 + unlisted_okx}
    assert stats["total_violations"] == 0
    assert stats["venues"]["cryptocom"]["requests"] == 1 + 120


# -- the option ---------------------------------------------------------------------------------------------


def test_parse_scale_reads_presets_factors_and_counts():
    assert parse_scale("") == {}
    assert parse_scale("okx=300, BYBIT=650") == {"okx": 300, "bybit": 650}
    assert parse_scale("realistic") == REALISTIC
    assert parse_scale("realistic,okx=20")["okx"] == 20
    assert parse_scale("3", {"okx": 1, "gate": 24}) == {"okx": 3, "gate": 72}
    assert parse_scale("1.5x", {"gate": 24}) == {"gate": 36}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hyperliquid=300", "cannot be scaled"),
        ("okx=many", "whole number"),
        ("okx=0", "between 1"),
        (f"okx={MAX_CLONES + 1}", "between 1"),
        ("lots", "realistic"),
        ("0", "above 0"),
        ("nan", "above 0"),
        ("101x", "at most 100"),
    ],
)
def test_parse_scale_refuses_what_it_cannot_do(text, says):
    with pytest.raises(ValueError, match=says):
        parse_scale(text)


def test_simulate_refuses_a_bad_scale_with_a_usage_error():
    outcome = CliRunner().invoke(main, ["simulate", "--scale", "dydx=500"])
    assert outcome.exit_code == 2
    assert "cannot be scaled" in outcome.output and "okx" in outcome.output
