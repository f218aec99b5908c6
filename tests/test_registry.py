"""Meta-tests that keep the venue registry honest: every registered venue has what a venue must have."""

from pathlib import Path

import pytest

from funding_finder.exchanges import VENUES
from funding_finder.exchanges.base import Role
from funding_finder.recordings import recording_path
from funding_finder.simulator.limits import LIMITS
from funding_finder.simulator.routes import ROUTES, find_handler, find_route
from funding_finder.simulator.window import _charge_for

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_IDS = [
    "binance",
    "okx",
    "bybit",
    "bitget",
    "gate",
    "mexc",
    "kucoin",
    "htx",
    "bingx",
    "hyperliquid",
    "dydx",
    "deribit",
    "krakenfutures",
    "coinbaseintl",
    "bitfinex",
    "phemex",
    "woox",
    "bitmart",
    "coinex",
    "aster",
    "backpack",
    "paradex",
    "lighter",
    "cryptocom",
]
README = (ROOT / "README.md").read_text()


def test_registered_ids_are_the_contracts_ids_in_its_order():
    assert list(VENUES) == [venue_id for venue_id in CONTRACT_IDS if venue_id in VENUES]


@pytest.mark.parametrize("venue_id", list(VENUES))
def test_every_venue_has_limits_recordings_a_parse_test_a_simulator_entry_and_a_readme_row(venue_id):
    spec = VENUES[venue_id].SPEC
    assert spec.id == venue_id and spec.limits and spec.endpoints
    assert all(root.startswith("https://") for root in spec.hosts.values())
    assert spec.docs_url.startswith("https://")
    assert all(endpoint.host in spec.hosts for endpoint in spec.endpoints)
    assert venue_id in LIMITS, "the simulator has no limits of its own for this venue"
    served = [name for key, name in ROUTES.items() if key.venue == venue_id]
    assert served and all(recording_path(venue_id, name).is_file() for name in served)
    assert (ROOT / "tests" / "exchanges" / f"test_{venue_id}.py").is_file()
    assert f"\n| {venue_id} |" in README, "README's venue table has no row for it"


UNRECORDED = {
    "binance": {"dapi-premiumIndex", "dapi-fundingInfo"},  # no COIN-M rate answer was ever recorded
    "bybit": {"instruments-info-inverse"},
    "bitget": {
        f"{endpoint}:{product}"
        for endpoint in ("current-fund-rate", "tickers", "contracts")
        for product in ("USDC-FUTURES", "COIN-FUTURES")
    },
    "gate": {"contracts-btc"},
    "deribit": {
        "book_summary-ETH",
        "book_summary-USDC",
        "book_summary-USDT",
        "instruments-ETH",
        "instruments-USDT",
    },
    "backpack": {"markets"},
}
"""The calls adapters make that no recording answers: the simulator gives its 404 for them, so a demo
cycle shows those venues `partial` with the rows of every recorded family."""


def _served(venue_id, endpoint):
    params = dict(endpoint.params) if endpoint.method == "GET" else dict(endpoint.json_body or {})
    return find_route(venue_id, endpoint.method, endpoint.path, params) is not None


@pytest.mark.parametrize("venue_id", list(VENUES))
def test_the_simulator_answers_every_call_but_the_listed_unrecorded_ones(venue_id):
    endpoints = VENUES[venue_id].SPEC.endpoints
    unserved = {endpoint.name for endpoint in endpoints if not _served(venue_id, endpoint)}
    assert unserved == UNRECORDED.get(venue_id, set())
    assert any(endpoint.role is Role.RATES and _served(venue_id, endpoint) for endpoint in endpoints) or (
        VENUES[venue_id].SPEC.per_instrument is not None
    ), "the demo would have no rows of this venue"


@pytest.mark.parametrize("venue_id", list(VENUES))
def test_every_call_a_venue_makes_is_charged_to_one_of_its_declared_limits(venue_id):
    spec = VENUES[venue_id].SPEC
    for endpoint in spec.endpoints:
        assert any(limit.cost_of(endpoint.name) > 0 for limit in spec.limits), endpoint.name


HISTORY_SAMPLES = {
    "binance": "BTCUSDT",
    "aster": "BTCUSDT",
    "bybit": "ETHPERP",
    "okx": "BTC-USD-SWAP",
    "hyperliquid": "BTC",
    "dydx": "BTC-USD",
    "krakenfutures": "PF_XBTUSD",
    "cryptocom": "BTCUSD-PERP",
    "woox": "PERP_BTC_USDT",
}
"""Per venue with a history endpoint, a contract whose history is recorded."""


@pytest.mark.parametrize("venue_id", [v for v in VENUES if getattr(VENUES[v].SPEC, "history", None)])
def test_every_history_endpoint_is_charged_and_served_by_the_simulator(venue_id):
    spec = VENUES[venue_id].SPEC
    name = spec.history.endpoint.name
    assert any(limit.cost_of(name) > 0 for limit in spec.limits), name
    request = spec.history.request(HISTORY_SAMPLES[venue_id], 0, 2**41)
    params = dict(request.params) if request.method == "GET" else dict(request.json_body or {})
    handler = find_handler(venue_id, request.method, request.path)
    reply = handler(params) if handler is not None else None
    assert reply is not None and reply.status == 200, "the simulator does not answer the history call"
    assert reply.body not in (b"[]", b""), "the simulator's answer has no recorded rows"
    charge = _charge_for(LIMITS[venue_id], request.method, request.path, params)
    assert charge is not None and any(cost > 0 for _, cost in charge.costs), (
        "the simulator does not charge it"
    )
