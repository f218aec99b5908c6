"""The JSON API against the simulator-filled database (tests/web/conftest.py names the recorded values)."""

import json

import pytest
from click.testing import CliRunner

from funding_finder.cli import main
from funding_finder.store import Store
from web.conftest import HOSTILE, HOSTILE_ERROR

KRAKEN_PI_XBTUSD_PER_HOUR = 1.092753425e-09 * 80659.63239729471  # absolute rate × mark, see test_cli_top


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    assert response.content_type == "application/json"
    return response.get_json()


def test_rates_gives_the_recorded_okx_row_with_its_rate_per_hour(client, web_db):
    body = get(client, "/api/rates?exchange=okx&q=btc-usdt-swap")
    (row,) = [r for r in body["items"] if r["native_symbol"] == "BTC-USDT-SWAP"]
    assert (row["funding_rate"], row["interval_hours"], row["next_funding_time"]) == (
        0.0001,
        8.0,
        "2026-09-19T16:00:00Z",
    )
    assert row["rate_per_hour"] == pytest.approx(0.0001 / 8) and row["apr"] == pytest.approx(0.0001 * 1095)
    assert row["flags"] == ["stale"] and row["asset"] == "BTC" and row["symbol"] == "BTC/USDT:USDT"
    store = Store(web_db)
    okx = [r for r in store.latest_rates(["okx"])]
    store.close()
    everything = get(client, "/api/rates?exchange=okx&limit=1000")
    assert everything["total"] == len(okx) and len(everything["items"]) == len(okx)


def test_rates_sort_and_pages_are_slices_of_one_order(client):
    full = get(client, "/api/rates?sort=apr&limit=1000")["items"]
    aprs = [r["apr"] for r in full if r["apr"] is not None]
    assert aprs == sorted(aprs, reverse=True) and aprs[0] > 1  # Coinbase International's -0.8291 %/h leg
    assert all(r["apr"] is None for r in full[len(aprs) :])  # unknowns last
    page = get(client, "/api/rates?sort=apr&limit=7&offset=7")
    assert page["items"] == full[7:14] and (page["offset"], page["next_offset"]) == (7, 14)
    by_name = get(client, "/api/rates?sort=exchange&order=asc&limit=1000")["items"]
    keys = [(r["exchange"], r["native_symbol"]) for r in by_name]
    assert keys == sorted(keys)
    inverse = get(client, "/api/rates?contract_type=inverse&limit=1000")["items"]
    assert inverse and all(r["contract_type"] == "inverse" for r in inverse)
    clean = get(client, "/api/rates?clean=true&asset=btc&limit=1000")["items"]
    assert clean and all(r["flags"] == [] and r["asset"] == "BTC" for r in clean)
    assert ("krakenfutures", "PI_XBTUSD") in {(r["exchange"], r["native_symbol"]) for r in clean}


def test_opportunities_are_top_json(client, web_db):
    body = get(client, "/api/opportunities?limit=1000")
    cli = CliRunner().invoke(main, ["top", "--db", web_db, "--json", "--limit", "1000"])
    assert cli.exit_code == 0, cli.output
    assert body["items"] == json.loads(cli.output) and body["total"] == len(body["items"])
    btc = next(o for o in body["items"] if o["asset"] == "BTC")
    assert (btc["long"]["exchange"], btc["long"]["funding_rate"]) == ("dydx", -4.318125e-05)
    assert btc["short"]["exchange"] == "krakenfutures"
    assert btc["spread_per_hour"] == pytest.approx(4.318125e-05 + KRAKEN_PI_XBTUSD_PER_HOUR, rel=1e-8)
    assert body["excluded"]["stale"] > 100  # replayed recordings
    assert body["excluded"]["mark_off_index"] == 2  # Coinbase's sandbox BTC-PERP, Bitfinex's APT
    allowed = get(client, "/api/opportunities?allow_flags=mark_off_index&limit=1000")
    btc = next(o for o in allowed["items"] if o["asset"] == "BTC")
    assert (btc["long"]["exchange"], btc["long"]["funding_rate"]) == ("coinbaseintl", -0.008291)
    assert btc["spread_per_hour"] == pytest.approx(0.008291 + KRAKEN_PI_XBTUSD_PER_HOUR, rel=1e-8)
    assert btc["flags"] == ["mark_off_index"]


def test_opportunity_filters_are_the_top_options(client, web_db):
    body = get(
        client, "/api/opportunities?linear_only=true&min_oi_usd=1e6&taker_fee=hyperliquid:0&limit=1000"
    )
    args = ["--linear-only", "--min-oi-usd", "1e6", "--taker-fee", "hyperliquid=0", "--limit", "1000"]
    cli = CliRunner().invoke(main, ["top", "--db", web_db, "--json", *args])
    assert body["items"] == json.loads(cli.output) and body["items"]
    assert all(leg["contract_type"] == "linear" for o in body["items"] for leg in (o["long"], o["short"]))
    stale = get(client, "/api/opportunities?allow_flags=stale&limit=1000")
    assert stale["total"] > body["total"] and "stale" not in stale["excluded"]
    assert (
        get(client, "/api/opportunities?limit=2&offset=1")["items"]
        == get(client, "/api/opportunities")["items"][1:3]
    )


def test_history_snapshots_of_a_contract_and_of_an_asset(client):
    (row,) = get(client, "/api/history/snapshots?exchange=okx&native_symbol=BTC-USDT-SWAP")["items"]
    (latest,) = [
        r
        for r in get(client, "/api/rates?exchange=okx&q=BTC-USDT-SWAP")["items"]
        if r["native_symbol"] == "BTC-USDT-SWAP"
    ]
    assert row == latest
    btc = get(client, "/api/history/snapshots?asset=BTC&limit=1000")
    rates = get(client, "/api/rates?asset=BTC&limit=1000")["items"]
    assert sorted((r["exchange"], r["native_symbol"]) for r in btc["items"]) == sorted(
        (r["exchange"], r["native_symbol"]) for r in rates
    )
    first = get(client, "/api/history/snapshots?asset=BTC&limit=3")
    assert first["items"] == btc["items"][:3] and first["next_offset"] == 3
    old = get(client, "/api/history/snapshots?asset=BTC&until=2020-01-01")
    assert old["items"] == [] and old["next_offset"] is None


def test_history_events_are_the_backfilled_settlements(client):
    url = (
        "/api/history/events?exchange=binance&native_symbol=BTCUSDT"
        "&since=2026-06-01&until=2026-08-01&limit=1000"
    )
    events = get(client, url)["items"]
    by_time = {e["funding_time"]: e for e in events}
    june13 = by_time["2026-06-13T00:00:00Z"]
    assert (june13["funding_rate"], june13["mark_price"], june13["interval_hours"]) == (
        0.00005357,
        63546.9,
        8.0,
    )
    assert [e["funding_time"] for e in events] == sorted(by_time)
    asset = get(client, "/api/history/events?asset=BTC&since=2026-06-01&until=2026-08-01&limit=1000")["items"]
    assert asset == events  # only Binance has a history endpoint
    assert get(client, url.replace("since=2026-06-01", "since=2026-06-13T00:00:01Z"))["items"][0][
        "funding_time"
    ] > ("2026-06-13T00:00:00Z")


def test_cycles_and_venue_health(client):
    cycles = get(client, "/api/cycles")["items"]
    assert [c["id"] for c in cycles] == [2, 1]
    assert [v["exchange"] for v in cycles[0]["venues"]] == ["binance", "okx"]
    assert len(cycles[1]["venues"]) == 24
    okx_rows = get(client, "/api/rates?exchange=okx&limit=1000")["total"]
    (okx_run,) = [v for v in cycles[1]["venues"] if v["exchange"] == "okx"]
    assert okx_run["rows"] == okx_rows - 1  # all but the hostile row of cycle 2
    assert get(client, "/api/cycles?limit=1&offset=1")["items"] == cycles[1:]
    health = {v["exchange"]: v for v in get(client, "/api/venues/health")["venues"]}
    assert len(health) == 24
    binance = health["binance"]
    assert (binance["last_cycle_id"], binance["last_status"], binance["last_error"]) == (
        2,
        "partial",
        HOSTILE_ERROR,
    )
    assert binance["statuses"][-1] == "partial" and binance["runs"] == 2
    assert binance["failures"]["bad_payload"] >= 1
    assert health["okx"]["staleness_s"] < 600  # the hostile row was observed just now
    assert health["gate"]["runs"] == 1 and health["gate"]["stale_now"] == health["gate"]["rows_now"]


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/rates?limit=1001", "limit"),
        ("/api/rates?limit=0", "limit"),
        ("/api/rates?limit=ten", "limit"),
        ("/api/rates?offset=-1", "offset"),
        ("/api/rates?sort=bogus", "sort"),
        ("/api/rates?order=up", "order"),
        ("/api/rates?exchange=nowhere", "exchange"),
        ("/api/rates?min_oi_usd=nan", "min_oi_usd"),
        ("/api/rates?clean=maybe", "clean"),
        ("/api/rates?colour=red", "colour"),
        ("/api/opportunities?allow_flags=interval_unknown", "allow_flags"),
        ("/api/opportunities?hold_hours=0", "hold_hours"),
        ("/api/opportunities?min_net_apr=inf", "min_net_apr"),
        ("/api/opportunities?taker_fee=okx", "taker_fee"),
        ("/api/opportunities?history_days=365", "history_days"),
        ("/api/history/snapshots", "asset"),
        ("/api/history/snapshots?asset=BTC&exchange=okx", "asset"),
        ("/api/history/snapshots?asset=BTC&since=yesterday", "since"),
        ("/api/history/snapshots?asset=BTC&since=2026-07-02&until=2026-07-01", "since"),
        ("/api/history/events?exchange=okx&native_symbol=X&until=99999-01-01", "until"),
        ("/api/cycles?limit=201", "limit"),
        ("/api/venues/health?cycles=100000", "cycles"),
    ],
)
def test_bad_parameters_are_400_json_naming_the_parameter(client, url, parameter):
    body = get(client, url, status=400)
    assert (body["error"], body["parameter"]) == ("bad_parameter", parameter) and body["message"]


def test_unknown_routes_and_methods_answer_json(client):
    assert get(client, "/api/nowhere", status=404)["error"] == "not_found"
    response = client.post("/api/rates")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.get_json()["error"] == "method_not_allowed"


def test_hostile_strings_are_escaped_in_every_answer_and_unchanged_once_parsed(client):
    for url in (
        "/api/rates?limit=1000",
        "/api/opportunities?limit=1000",
        f"/api/history/snapshots?exchange=okx&native_symbol={HOSTILE}USDT",
        "/api/cycles",
        "/api/venues/health",
    ):
        response = client.get(url, query_string=None)
        raw = response.get_data(as_text=True)
        assert response.status_code == 200 and "<" not in raw and ">" not in raw, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    rows = get(client, f"/api/rates?asset={HOSTILE}")["items"]
    assert {r["exchange"] for r in rows} == {"binance", "okx"}
    assert all(r["symbol"] == f"{HOSTILE}/USDT:USDT" and r["native_symbol"] == HOSTILE + "USDT" for r in rows)
    pair = next(o for o in get(client, "/api/opportunities?limit=1000")["items"] if o["asset"] == HOSTILE)
    assert (pair["long"]["exchange"], pair["short"]["exchange"]) == ("binance", "okx")
    assert pair["spread_per_hour"] == pytest.approx((0.0005 + 0.0002) / 8)


def test_an_infinite_apr_is_null_in_every_json_answer(tmp_path):
    from funding_finder.store import Store
    from funding_finder.web import create_app
    from web.test_persistence import T0, write

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))

    store = Store(str(tmp_path / "inf.db"))
    cycle_id = store.start_cycle(T0)
    write(store, cycle_id, "bingx", 1e308, T0)  # × 8760 / 8 h: an infinite APR
    write(store, cycle_id, "okx", 0.0001, T0)
    store.finish_cycle(cycle_id, T0, "complete")
    client = create_app(store).test_client()
    rows = {r["exchange"]: r for r in strict(client.get("/api/rates").get_data(as_text=True))["items"]}
    assert rows["bingx"]["apr"] is None and rows["bingx"]["funding_rate"] == 1e308
    assert rows["bingx"]["flags"] == ["implausible_rate"]
    answer = client.get("/api/opportunities?allow_flags=implausible_rate,stale").get_data(as_text=True)
    (pair,) = strict(answer)["items"]
    assert pair["apr"] is None and pair["net_apr"] is None
    cli = CliRunner().invoke(main, ["rates", "--json", "--db", str(tmp_path / "inf.db")])
    assert {r["exchange"]: r["apr"] for r in strict(cli.output)} == {"bingx": None, "okx": 0.0001 * 8760 / 8}
