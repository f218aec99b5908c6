"""The demo's time shift: every time field of a recording moved by one offset, nothing else touched;
rows collected through it are live, and without it the recorded values are served unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import VENUES
from funding_finder.recordings import load_bytes
from funding_finder.simulator import Simulator
from funding_finder.simulator.routes import ROUTES
from funding_finder.simulator.timeshift import TIME_KEY, ShiftedRecording, TimeShiftedSimulator
from funding_finder.store import Store

SERVED = sorted({(key.venue, name) for key, name in ROUTES.items()})
BYBIT_TICKERS = "v5-market-tickers-linear__arb-chain-bot-20260827.trimmed.json"
GATE_CONTRACTS = "futures-usdt-contracts__arb-chain-bot-20260827.trimmed.json"
KRAKEN_TICKERS = "derivatives-api-v3-tickers__arb-chain-bot-20260827.trimmed.json"
BITFINEX = "v2-status-deriv-keys-ALL__arb-chain-bot-20260827.trimmed.json"
DAY_S = 86400


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def moved_by(before, after) -> float | None:
    """Seconds `after` lies after `before` when both are the same kind of time, else None."""
    if isinstance(before, str) and len(before) >= 19 and before[4] == "-":
        layout = "%Y-%m-%dT%H:%M:%S" if before[10] == "T" else "%Y-%m-%d %H:%M:%S"
        return (
            datetime.strptime(after[:19], layout) - datetime.strptime(before[:19], layout)
        ).total_seconds()
    digits = str(before).split(".")[0]
    per_s = {10: 1, 13: 1_000, 16: 1_000_000, 19: 1_000_000_000}[len(digits)]
    return (int(str(after).split(".")[0]) - int(digits)) / per_s


@pytest.mark.parametrize(("venue", "name"), SERVED)
def test_only_time_fields_move_and_all_by_the_same_offset(venue, name):
    raw = load_bytes(venue, name)
    recording = ShiftedRecording(raw)
    if recording.captured_s is None:  # no time in it (hyperliquid, dydx, lighter): served as is
        assert recording.at(2e9) == raw
        return
    now_s = recording.captured_s + 3 * DAY_S + 0.4
    assert recording.offset_s(now_s) == 3 * DAY_S
    before, after = dict(leaves(json.loads(raw))), dict(leaves(json.loads(recording.at(now_s))))
    assert before.keys() == after.keys()
    changed = {path for path in before if before[path] != after[path]}
    assert changed, "a recording with times has some moved"
    for path in changed:
        key = path[-1]
        assert isinstance(key, int) or TIME_KEY.search(key), f"{path} is not a time field"
        assert moved_by(before[path], after[path]) == 3 * DAY_S, path
        assert type(before[path]) is type(after[path])  # a string stays a string
    # every other byte is the recording's: offset 0 gives the recorded bytes back
    assert recording.at(recording.captured_s) == raw


def test_bybit_moves_its_settlements_and_stamp_but_not_its_open_interest():
    raw = load_bytes("bybit", BYBIT_TICKERS)
    recording = ShiftedRecording(raw)
    assert recording.captured_s == 1787848767.276  # the answer's `time`
    rows = json.loads(recording.at(1787848767.276 + 3600))
    first = json.loads(raw)["result"]["list"][0]
    shifted = rows["result"]["list"][0]
    assert rows["time"] == 1787848767276 + 3_600_000
    assert int(shifted["nextFundingTime"]) == int(first["nextFundingTime"]) + 3_600_000
    big = [row for row in json.loads(raw)["result"]["list"] if row.get("openInterest") == "1739583000"]
    assert big, "the recording holds an open interest with ten digits"
    assert any(row.get("openInterest") == "1739583000" for row in rows["result"]["list"])


def test_iso_times_and_positional_ms_move_too():
    kraken = ShiftedRecording(load_bytes("krakenfutures", KRAKEN_TICKERS))
    assert kraken.captured_s == datetime(2026, 8, 27, 17, 21, 56, tzinfo=UTC).timestamp()
    shifted = json.loads(kraken.at(kraken.captured_s + 90))
    assert shifted["serverTime"] == "2026-08-27T17:23:26.554Z"  # fraction and suffix kept
    bitfinex = ShiftedRecording(load_bytes("bitfinex", BITFINEX))
    row, moved = json.loads(load_bytes("bitfinex", BITFINEX))[0], json.loads(bitfinex.at(2e9))[0]
    assert moved[8] - row[8] == bitfinex.offset_s(2e9) * 1000  # NEXT_FUNDING_EVT_MTS
    assert moved[15] == row[15]  # the mark price


def test_a_recording_without_a_stamp_puts_its_nearest_settlement_half_an_hour_ahead():
    gate = ShiftedRecording(load_bytes("gate", GATE_CONTRACTS))
    contracts = json.loads(load_bytes("gate", GATE_CONTRACTS))
    nearest = min(row["funding_next_apply"] for row in contracts)
    assert gate.captured_s == nearest - 1800
    now_s = 2_000_000_000
    shifted = json.loads(gate.at(now_s))
    assert min(row["funding_next_apply"] for row in shifted) == now_s + 1800


def collect(sim, store, venues=tuple(VENUES)):
    config = CollectorConfig(base_urls={venue: sim.venue_url(venue) for venue in venues})
    Collector(store, list(venues), config).run_cycle()
    return {(row.exchange, row.native_symbol): row for row in store.latest_rates()}


def test_with_the_shift_rows_are_live_and_settle_in_the_future(tmp_path):
    start_s, ahead = datetime.now(UTC).timestamp(), {"s": 0.0}  # the simulator's clock: still, then +5 min
    store = Store(str(tmp_path / "shifted.db"))
    with TimeShiftedSimulator(latency_ms=0, wall_clock=lambda: start_s + ahead["s"]) as sim:
        first = collect(sim, store)
        ahead["s"] = 300.0  # the next cycle, five minutes on
        gate_venues = ("gate", "bybit", "okx", "binance", "kucoin", "bitfinex", "coinex", "bitmart")
        second = collect(sim, store, gate_venues)
    store.close()
    assert len(first) > 1000
    assert not [key for key, row in first.items() if "stale" in row.flags]
    timed = [row for row in first.values() if row.next_funding_time is not None]
    assert len(timed) > 1000
    assert all(row.next_funding_time > row.observed_at for row in timed)
    venues = {row.exchange for row in timed}
    assert {
        "gate",
        "bybit",
        "okx",
        "binance",
        "kucoin",
        "bitfinex",
        "coinex",
        "bitmart",
        "backpack",
    } <= venues
    # a venue whose recorded settlement was 4 h 34 min ahead of the answer's stamp still is
    btc = first[("bybit", "BTCUSDT")]
    recorded = json.loads(load_bytes("bybit", BYBIT_TICKERS))
    (raw_btc,) = [row for row in recorded["result"]["list"] if row["symbol"] == "BTCUSDT"]
    lead_s = int(raw_btc["nextFundingTime"]) / 1000 - recorded["time"] / 1000
    assert (btc.next_funding_time - btc.observed_at).total_seconds() == pytest.approx(lead_s, abs=30)
    # five minutes later the times moved by five minutes, so the venues are still live
    for venue in gate_venues:
        rows = [row for key, row in second.items() if key[0] == venue]
        assert rows and not [row for row in rows if "stale" in row.flags], venue
    moved = second[("gate", "BTC_USDT")].next_funding_time - first[("gate", "BTC_USDT")].next_funding_time
    assert moved == timedelta(seconds=300)


def test_without_the_shift_the_recorded_times_are_served_and_stored(tmp_path):
    store = Store(str(tmp_path / "plain.db"))
    with Simulator(latency_ms=0) as sim:
        answer = requests.get(sim.venue_url("gate") + "/api/v4/futures/usdt/contracts", timeout=5)
        rows = collect(sim, store, ("gate", "bybit"))
    store.close()
    assert answer.content == load_bytes("gate", GATE_CONTRACTS)
    contracts = {row["name"]: row for row in json.loads(load_bytes("gate", GATE_CONTRACTS))}
    gate_btc = rows[("gate", "BTC_USDT")]
    assert gate_btc.next_funding_time.timestamp() == contracts["BTC_USDT"]["funding_next_apply"]
    assert "stale" in gate_btc.flags  # settled in 2026-08, before now
