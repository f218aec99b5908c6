import dataclasses
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from funding_finder.backfill import backfill
from funding_finder.collector import Collector, CollectorConfig
from funding_finder.exchanges import binance, dydx, get_venue
from funding_finder.model import make_rate
from funding_finder.recordings import load_json
from funding_finder.simulator import Simulator
from funding_finder.store import Store, VenueRun

END = datetime(2026, 7, 13, tzinfo=UTC)
"""The newest recorded Binance history ends on 2026-07-12 16:00 UTC."""


@pytest.fixture(scope="module")
def sim():
    with Simulator(latency_ms=0) as simulator:
        yield simulator


@pytest.fixture
def store(tmp_path, sim):
    made = Store(str(tmp_path / "history.db"))
    Collector(made, ["binance"], config(sim)).run_cycle()  # the contracts to backfill
    yield made
    made.close()


def config(sim, **changes):
    return CollectorConfig(base_urls={"binance": sim.venue_url("binance")}, **changes)


def recorded_btc_times_ms():
    times = set()
    for name in (
        "fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260710.json",
        "fapi-v1-fundingRate-BTCUSDT-90rows__noahark-20260713.json",
        "fapi-v1-fundingRate-BTCUSDT-limit20__noahark-20260704T1556Z.json",
    ):
        times |= {row["fundingTime"] for row in load_json("binance", name)}
    return times


def test_backfill_stores_every_recorded_settlement_with_its_own_time_and_rate(store, sim):
    sim.reset()
    [result] = backfill(
        store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT", "ETHUSDT", "AAVEUSDT"}
    )
    assert (result.contracts, result.done, result.requests) == (3, 3, 3)  # 98 rows fit one page of 1000
    assert result.failures == {} and sim.stats()["total_violations"] == 0
    btc = store.events("binance", "BTCUSDT")
    assert len(btc) == len({round(t / 1000) for t in recorded_btc_times_ms()}) == 98
    first, second = btc[0], btc[1]
    # recorded: {"fundingTime": 1781078400011, "fundingRate": "-0.00003385", "markPrice": "61655.56078986"}
    assert first.funding_time == datetime(2026, 6, 10, 8, tzinfo=UTC)  # 11 ms of jitter rounded off
    assert (first.funding_rate, first.mark_price, first.interval_hours) == (-0.00003385, 61655.56078986, None)
    assert second.funding_time == datetime(2026, 6, 10, 16, tzinfo=UTC)
    assert (second.funding_rate, second.interval_hours) == (0.00002542, 8.0)
    assert (
        btc[-1].funding_time == datetime(2026, 7, 12, 16, tzinfo=UTC) and btc[-1].funding_rate == 0.00007578
    )
    eth = store.events("binance", "ETHUSDT")
    assert len(eth) == 20 and (eth[0].funding_time, eth[0].funding_rate) == (
        datetime(2026, 6, 28, tzinfo=UTC),
        -0.00005389,
    )
    assert store.events("binance", "AAVEUSDT") == []  # no recorded history: the venue's empty answer


def test_a_second_run_resumes_after_the_stored_events_and_adds_nothing(store, sim):
    backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    sim.reset()
    [again] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    # one call for the days before the oldest stored settlement (none there), one after the newest
    assert (again.requests, again.events) == (2, 0)
    assert len(store.events("binance", "BTCUSDT")) == 98


def test_pages_follow_the_rows_own_times(store, sim, monkeypatch):
    small_pages = dataclasses.replace(binance.SPEC.history, page_rows=30)
    monkeypatch.setattr(binance, "SPEC", dataclasses.replace(binance.SPEC, history=small_pages))
    sim.reset()
    [result] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    assert result.requests == 4  # 30 + 30 + 30 + 8 rows (the last page, short, ends the contract)
    events = store.events("binance", "BTCUSDT")
    assert len(events) == 98 and [e.interval_hours for e in events[1:]] == [8.0] * 97


def test_the_range_ends_at_the_requested_days(store, sim):
    backfill(store, ["binance"], 2, config(sim), now=END, symbols={"BTCUSDT"})
    times = [event.funding_time for event in store.events("binance", "BTCUSDT")]
    assert times == [datetime(2026, 7, 11, h, tzinfo=UTC) for h in (0, 8, 16)] + [
        datetime(2026, 7, 12, h, tzinfo=UTC) for h in (0, 8, 16)
    ]


@pytest.mark.parametrize(
    ("fault", "kind"), [("html", "http_5xx"), ("truncated", "bad_json"), ("drop", "connection")]
)
def test_a_failing_history_is_counted_and_stores_nothing_half(store, sim, fault, kind):
    sim.set_fault("binance", fault)
    try:
        [result] = backfill(store, ["binance"], 40, config(sim, retries=0), now=END, symbols={"BTCUSDT"})
    finally:
        sim.set_fault("binance", None)
    assert result.failures == {kind: 1} and result.done == 0
    assert store.events("binance", "BTCUSDT") == []


def test_a_database_that_refuses_the_events_stops_the_venue_and_says_why(store, sim, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def refuse(events):
        raise OperationalError("INSERT", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(store, "write_events", refuse)
    sim.reset()
    symbols = {row.native_symbol for row in store.latest_rates(["binance"])}
    [result] = backfill(store, ["binance"], 40, config(sim), now=END, symbols=symbols)
    assert result.store_error == "cannot write to the database: attempt to write a readonly database"
    assert result.done == 0 and result.events == 0 and result.failures["store"] >= 1
    assert result.contracts == len(symbols) > 100
    assert result.requests < 20  # the venue stopped at the first refusal, not after every contract


def test_without_stored_contracts_the_venue_says_to_collect_first(tmp_path, sim):
    empty = Store(str(tmp_path / "empty.db"))
    results = backfill(empty, ["binance", "okx", "gate"], 30, config(sim), now=END)
    assert [r.exchange for r in results] == ["binance", "okx"]  # gate has no history endpoint: skipped
    assert all(r.contracts == 0 and "collect" in r.note for r in results)
    empty.close()


def test_a_stop_before_the_start_fetches_nothing(store, sim):
    stop = threading.Event()
    stop.set()
    assert backfill(store, ["binance"], 40, config(sim), now=END, stop=stop) == []


def test_a_wider_range_fetches_what_lies_before_the_stored_events(store, sim):
    backfill(store, ["binance"], 2, config(sim), now=END, symbols={"BTCUSDT"})
    assert len(store.events("binance", "BTCUSDT")) == 6
    sim.reset()
    [wider] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"BTCUSDT"})
    assert (wider.requests, wider.events) == (2, 92)  # the range before the stored six, and after them
    events = store.events("binance", "BTCUSDT")
    assert len(events) == 98 and events[0].funding_time == datetime(2026, 6, 10, 8, tzinfo=UTC)


def test_symbols_that_match_no_stored_contract_say_so(store, sim):
    [result] = backfill(store, ["binance"], 40, config(sim), now=END, symbols={"btcusdt"})
    assert result.contracts == 0 and "--symbols" in result.note


# --- every venue with a history endpoint, through the simulator -----------------------------------------


@dataclass(frozen=True)
class Case:
    """One venue's recorded history: the contract, the range that holds it, and the recorded events read
    straight from the recording as (epoch s, rate, mark price), independently of the adapter."""

    venue: str
    symbol: str
    end: datetime
    days: float
    recorded: Callable[[], list[tuple[int, float, float | None]]]
    requests: int
    """History calls of a first run (pages)."""
    seed: str | None = None
    """The contract type of a contract the cycle's recordings lack: stored by hand as the contract list."""


def _s(ms: Any) -> int:
    return round(int(ms) / 1000)


def _iso_s(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp())


def _rows(venue: str, *names: str, at: Callable[[Any], Any] = lambda body: body) -> list[Any]:
    return [row for name in names for row in at(load_json(venue, name))]


CASES = [
    Case(
        "binance",
        "ETHUSDT",
        END,
        40,
        lambda: [
            (_s(r["fundingTime"]), float(r["fundingRate"]), float(r["markPrice"]))
            for r in _rows("binance", "fapi-v1-fundingRate-ETHUSDT-limit20__noahark-20260704T1556Z.json")
        ],
        1,
    ),
    Case(
        "aster",
        "BTCUSDT",
        datetime(2025, 6, 17, tzinfo=UTC),
        30,
        lambda: [
            (_s(r["fundingTime"]), float(r["fundingRate"]), None)
            for r in _rows("aster", "fapi-v1-fundingRate-history.json")
        ],
        1,
    ),
    Case(
        "bybit",
        "ETHPERP",
        datetime(2022, 12, 27, tzinfo=UTC),
        30,
        lambda: [
            (_s(r["fundingRateTimestamp"]), float(r["fundingRate"]), None)
            for r in _rows("bybit", "funding-history.docs-example.json", at=lambda b: b["result"]["list"])
        ],
        1,
        seed="linear",
    ),
    Case(
        "okx",
        "BTC-USD-SWAP",
        datetime(2023, 12, 21, tzinfo=UTC),
        2,
        lambda: [
            (_s(r["fundingTime"]), float(r["realizedRate"]), None)
            for r in _rows(
                "okx", "funding-rate-history-BTC-USD-SWAP.docs-example.json", at=lambda b: b["data"]
            )
        ],
        1,
        seed="inverse",
    ),
    Case(
        "hyperliquid",
        "BTC",
        datetime(2023, 7, 18, tzinfo=UTC),
        70,
        lambda: [
            (_s(r["time"]), float(r["fundingRate"]), None)
            for r in _rows("hyperliquid", "info-fundingHistory-BTC__hl-python-sdk.json")
        ],
        3,  # 1,038 rows at 500 a page
    ),
    Case(
        "dydx",
        "BTC-USD",
        datetime(2025, 12, 9, tzinfo=UTC),
        140,
        lambda: [
            (_iso_s(r["effectiveAt"]), float(r["rate"]), float(r["price"]))
            for r in _rows(
                "dydx",
                "historicalFunding.json",
                "historicalFunding-3rows.json",
                at=lambda b: b["historicalFunding"],
            )
        ],
        1,
    ),
    Case(
        "krakenfutures",
        "PF_XBTUSD",
        datetime(2026, 8, 28, tzinfo=UTC),
        2,
        lambda: [
            (_iso_s(r["timestamp"]), r["relativeFundingRate"], r["fundingRate"] / r["relativeFundingRate"])
            for r in _rows(
                "krakenfutures",
                "derivatives-api-v4-historicalfundingrates-PF_XBTUSD__arb-chain-bot-20260827.trimmed.json",
                at=lambda b: b["rates"],
            )
        ],
        1,
    ),
    Case(
        "woox",
        "PERP_BTC_USDT",
        datetime(2025, 7, 5, tzinfo=UTC),
        30,
        lambda: [
            (_s(r["fundingRateTimestamp"]), float(r["fundingRate"]), float(r["markPrice"]))
            for r in _rows("woox", "v3-public-fundingRateHistory.json", at=lambda b: b["data"]["rows"])
        ],
        1,
    ),
    Case(
        "cryptocom",
        "BTCUSD-PERP",
        datetime(2026, 8, 28, tzinfo=UTC),
        2,
        lambda: [
            (_s(r["t"]), float(r["v"]), None)
            for r in _rows(
                "cryptocom",
                "exchange-v1-public-get-valuations-funding_hist-BTCUSD-PERP__arb-chain-bot-20260827.json",
                at=lambda b: b["result"]["data"],
            )
        ],
        1,
    ),
]


def venue_config(sim, venue, **changes):
    return CollectorConfig(base_urls={venue: sim.venue_url(venue)}, **changes)


def seed_contract(store: Store, venue: str, symbol: str, contract_type: str) -> None:
    """A stored latest row for a contract whose history is recorded but whose current rate is not: the
    contract list `backfill` reads (its rate and times play no part)."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    row = make_rate(
        exchange=venue,
        native_symbol=symbol,
        listed_base=symbol[:3],
        quote="USD",
        settle=symbol[:3] if contract_type == "inverse" else "USDC",
        contract_type=contract_type,
        funding_rate=0.0,
        interval_hours=8.0,
        next_funding_time=moment,
        observed_at=moment,
    )
    cycle = store.start_cycle(moment)
    store.write_venue(cycle, VenueRun(venue, "ok"), [row])
    store.finish_cycle(cycle, moment, "complete")


@pytest.fixture
def venue_store(tmp_path, sim, request):
    case: Case = request.param
    made = Store(str(tmp_path / f"{case.venue}.db"))
    Collector(made, [case.venue], venue_config(sim, case.venue)).run_cycle()
    if case.seed is not None:
        seed_contract(made, case.venue, case.symbol, case.seed)
    sim.reset()  # the cycle's calls are not the backfill's (Kraken allows 1 per s)
    yield case, made
    made.close()


def run(store, sim, case, **changes):
    [result] = backfill(
        store,
        [case.venue],
        case.days,
        venue_config(sim, case.venue, **changes),
        now=case.end,
        symbols={case.symbol},
    )
    return result


by_venue = pytest.mark.parametrize("venue_store", CASES, ids=[c.venue for c in CASES], indirect=True)


@by_venue
def test_every_venue_stores_exactly_the_recorded_events(venue_store, sim):
    case, store = venue_store
    result = run(store, sim, case)
    assert result.failures == {} and (result.contracts, result.done) == (1, 1)
    assert result.requests == case.requests and sim.stats()["total_violations"] == 0
    events = store.events(case.venue, case.symbol)
    recorded = sorted(set(case.recorded()))
    assert result.events == len(events) == len(recorded) > 0
    assert [(round(e.funding_time.timestamp()), e.funding_rate) for e in events] == [r[:2] for r in recorded]
    for event, (_, _, mark) in zip(events, recorded, strict=True):
        assert event.mark_price == pytest.approx(mark) if mark is not None else event.mark_price is None
        assert (event.exchange, event.native_symbol) == (case.venue, case.symbol)
    gaps = [None] + [round((b[0] - a[0]) / 60) / 60 for a, b in itertools.pairwise(recorded)]
    assert [e.interval_hours for e in events] == gaps  # from the recorded neighbours, never assumed


@by_venue
def test_every_venue_resumes_and_adds_nothing(venue_store, sim):
    case, store = venue_store
    run(store, sim, case)
    stored = store.events(case.venue, case.symbol)
    sim.reset()
    again = run(store, sim, case)
    # one call for the days before the oldest stored settlement, one after the newest (Kraken's one call
    # answers both): nothing new
    calls = 1 if get_venue(case.venue).SPEC.history.paging == "none" else 2
    assert (again.requests, again.events, again.failures) == (calls, 0, {})
    assert store.events(case.venue, case.symbol) == stored and sim.stats()["total_violations"] == 0


@by_venue
@pytest.mark.parametrize(("fault", "kind"), [("html", "http_5xx"), ("truncated", "bad_json")])
def test_every_venues_faults_are_counted_by_kind(venue_store, sim, fault, kind):
    case, store = venue_store
    sim.set_fault(case.venue, fault)
    try:
        result = run(store, sim, case, retries=0)
    finally:
        sim.set_fault(case.venue, None)
    assert result.failures == {kind: 1} and result.done == 0
    assert store.events(case.venue, case.symbol) == []


DYDX = next(case for case in CASES if case.venue == "dydx")


@pytest.mark.parametrize("venue_store", [DYDX], ids=["dydx"], indirect=True)
def test_backward_pages_end_before_the_oldest_row_of_the_page_before(venue_store, sim, monkeypatch):
    case, store = venue_store
    small = dataclasses.replace(dydx.SPEC.history, page_rows=2)
    monkeypatch.setattr(dydx, "SPEC", dataclasses.replace(dydx.SPEC, history=small))
    result = run(store, sim, case)
    assert (result.requests, result.events) == (3, 4)  # 2 + 2 rows, then an empty page
    assert [e.interval_hours for e in store.events("dydx", "BTC-USD")] == [None, 3177.0, 1.0, 1.0]


@pytest.mark.parametrize("venue_store", [DYDX], ids=["dydx"], indirect=True)
def test_a_backward_range_keeps_to_its_ends(venue_store, sim):
    _, store = venue_store
    end = datetime(2025, 12, 8, 15, 30, tzinfo=UTC)
    backfill(store, ["dydx"], 1, venue_config(sim, "dydx"), now=end, symbols={"BTC-USD"})
    times = [e.funding_time for e in store.events("dydx", "BTC-USD")]
    # "2025-12-08T14:00:00.112Z" and "…15:00:00.586Z", each rounded to its second; 16:00 is after the end
    assert times == [datetime(2025, 12, 8, 14, tzinfo=UTC), datetime(2025, 12, 8, 15, 0, 1, tzinfo=UTC)]


def test_venues_run_side_by_side_and_report_progress_per_venue(tmp_path, sim):
    venues = ["cryptocom", "dydx", "krakenfutures"]
    made = Store(str(tmp_path / "several.db"))
    urls = {venue: sim.venue_url(venue) for venue in venues}
    Collector(made, venues, CollectorConfig(base_urls=urls)).run_cycle()
    sim.reset()
    calls = []
    results = backfill(
        made,
        venues,
        2,
        CollectorConfig(base_urls=urls),
        now=datetime(2026, 8, 28, tzinfo=UTC),
        symbols={"BTCUSD-PERP", "ETHUSD-PERP", "SOLUSD-PERP", "PF_XBTUSD", "BTC-USD"},
        progress=lambda *call: calls.append(call),
    )
    assert [r.exchange for r in results] == venues  # in the order asked
    assert [(r.contracts, r.done, r.events) for r in results] == [(3, 3, 5), (1, 1, 0), (1, 1, 6)]
    for result in results:
        mine = [call for call in calls if call[0] == result.exchange]
        assert mine[0][1:3] == (0, 0) and sum(c[1] for c in mine) == result.contracts
        assert sum(c[2] for c in mine) == result.events and {c[3] for c in mine} == {result.contracts}
    assert sim.stats()["total_violations"] == 0
    made.close()


KRAKEN = next(case for case in CASES if case.venue == "krakenfutures")


@pytest.mark.parametrize("venue_store", [KRAKEN], ids=["krakenfutures"], indirect=True)
def test_a_one_call_history_adds_only_what_lies_outside_the_stored_span(venue_store, sim):
    _, store = venue_store
    config = venue_config(sim, "krakenfutures")
    early = datetime(2026, 8, 27, 14, 30, tzinfo=UTC)
    backfill(store, ["krakenfutures"], 1, config, now=early, symbols={"PF_XBTUSD"})
    assert [e.funding_time.hour for e in store.events("krakenfutures", "PF_XBTUSD")] == [12, 13, 14]
    sim.reset()  # a new run's gate does not know the last run's call (1 per s)
    [later] = backfill(store, ["krakenfutures"], 2, config, now=KRAKEN.end, symbols={"PF_XBTUSD"})
    assert (later.requests, later.events) == (1, 3)  # one call; 15:00, 16:00, 17:00 are new
    events = store.events("krakenfutures", "PF_XBTUSD")
    assert [(e.funding_time.hour, e.interval_hours) for e in events] == [
        (12, None),
        (13, 1.0),
        (14, 1.0),
        (15, 1.0),  # from the stored 14:00 settlement
        (16, 1.0),
        (17, 1.0),
    ]


def test_the_backfill_command_exits_1_when_the_database_refuses_the_events(store, sim, monkeypatch):
    from click.testing import CliRunner
    from sqlalchemy.exc import OperationalError

    from funding_finder.cli import main

    def refuse(self, events):
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(Store, "write_events", refuse)
    env = {"FUNDING_FINDER_BINANCE_URL": sim.venue_url("binance")}
    args = ["backfill", "--db", store.url[len("sqlite:///") :], "--exchanges", "binance", "--days", "200"]
    result = CliRunner(env=env).invoke(main, [*args, "--symbols", "BTCUSDT"])
    assert result.exit_code == 1
    assert "Error: cannot write to the database: database or disk is full" in result.output
