"""`funding-finder top` and `rates --csv` against a database filled by one cycle through the simulator.

The expected legs and rates come from the recordings: Coinbase International's BTC-PERP quote
(`predicted_funding` -0.008291, hourly), Kraken's PI_XBTUSD ticker (absolute `fundingRate`
1.092753425e-09 × `markPrice` 80659.63239729471 = 8.8141e-05 per hour), Hyperliquid's BTC (the 8 h-basis
0.0001 / 8 = 1.25e-05 per hour) and Deribit's BTC-PERPETUAL (`funding_8h` 1.742e-05 per 8 h).
"""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from funding_finder.arbitrage import flat_columns
from funding_finder.cli import main
from funding_finder.exchanges import VENUES
from funding_finder.simulator import Simulator

KRAKEN_PI_XBTUSD_PER_HOUR = 1.092753425e-09 * 80659.63239729471


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("top") / "funding.db")
    with Simulator(latency_ms=0) as sim:
        env = {f"FUNDING_FINDER_{venue_id.upper()}_URL": sim.venue_url(venue_id) for venue_id in VENUES}
        result = CliRunner(env=env).invoke(main, ["collect", "--once", "--db", db])
    assert result.exit_code == 0, result.output
    return db


def top(db, *args):
    result = CliRunner().invoke(main, ["top", "--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.output


ALLOW_OFF_INDEX = ("--allow-flags", "mark_off_index")


def test_top_leaves_out_a_mark_far_from_its_index_and_pairs_the_next_best(collected):
    pairs = {pair["asset"]: pair for pair in json.loads(top(collected, "--json", "--limit", "500"))}
    btc = pairs["BTC"]
    assert (btc["long"]["exchange"], btc["long"]["native_symbol"]) == ("dydx", "BTC-USD")
    assert (btc["long"]["funding_rate"], btc["long"]["interval_hours"]) == (-4.318125e-05, 1)
    assert (btc["short"]["exchange"], btc["short"]["native_symbol"]) == ("krakenfutures", "PI_XBTUSD")
    # 0.00004318125 + 0.0000881411 = 0.0001313223 per hour; × 8760 = 1.150384
    assert btc["spread_per_hour"] == pytest.approx(4.318125e-05 + KRAKEN_PI_XBTUSD_PER_HOUR, rel=1e-9)
    assert btc["apr"] == pytest.approx(1.150384, rel=1e-6)
    # dYdX 0.05 %, Kraken 0.05 %: 2 × 0.001 = 0.002; net 1.150384 − 0.002 × 8760 / 168 = 1.046098
    assert (btc["fees"], btc["net_apr"]) == (0.002, pytest.approx(1.046098, rel=1e-6))
    assert btc["flags"] == []
    table = top(collected, "--limit", "5")
    assert "mark_off_index 2" in table and "coinbaseintl BTC-PERP" not in table
    assert "0.0088%/1h inverse, BTC" in table  # Kraken's PI_XBTUSD is coin-settled


def test_top_json_pairs_the_recorded_rates_with_fees_and_net_apr(collected):
    listed = json.loads(top(collected, "--json", "--limit", "500", *ALLOW_OFF_INDEX))
    pairs = {pair["asset"]: pair for pair in listed}
    btc = pairs["BTC"]
    assert (btc["long"]["exchange"], btc["long"]["native_symbol"]) == ("coinbaseintl", "BTC-PERP")
    assert (btc["long"]["funding_rate"], btc["long"]["interval_hours"]) == (-0.008291, 1)
    assert (btc["short"]["exchange"], btc["short"]["native_symbol"]) == ("krakenfutures", "PI_XBTUSD")
    assert (btc["short"]["contract_type"], btc["short"]["settle"]) == ("inverse", "BTC")
    assert btc["short"]["funding_rate"] == pytest.approx(KRAKEN_PI_XBTUSD_PER_HOUR)
    # 0.008291 + 0.0000881411 = 0.0083791411 per hour; × 8760 = 73.4013
    assert btc["spread_per_hour"] == pytest.approx(0.0083791411, rel=1e-8)
    assert btc["apr"] == pytest.approx(73.40128, rel=1e-6)
    # Coinbase International's fee is unconfirmed (0.1 %), Kraken 0.05 %: 2 × 0.0015 = 0.003;
    # net over the default 168 h: 73.40128 − 0.003 × 8760 / 168 = 73.40128 − 0.15643 = 73.24485
    assert (btc["long"]["taker_fee"], btc["short"]["taker_fee"], btc["fees"]) == (0.001, 0.0005, 0.003)
    assert (btc["hold_hours"], btc["net_apr"]) == (168, pytest.approx(73.24485, rel=1e-6))
    assert btc["price_gap"] == pytest.approx(80659.63239729471 / 55540 - 1)
    # one cycle: the spread is positive at its only sample, so it has lasted 0 h since the later leg
    rates = {(r["exchange"], r["native_symbol"]): r for r in json.loads(_rates(collected, "--json"))}
    legs = [rates[("coinbaseintl", "BTC-PERP")], rates[("krakenfutures", "PI_XBTUSD")]]
    assert btc["persistence_hours"] == 0 and btc["positive_since"] == max(r["observed_at"] for r in legs)
    (btc_now, *_) = json.loads(top(collected, "--json", "--history-days", "1e-9", *ALLOW_OFF_INDEX))
    assert (btc_now["asset"], btc_now["persistence_hours"], btc_now["positive_since"]) == ("BTC", 0, None)
    assert btc["flags"] == ["mark_off_index"]  # allowed in, and marked
    others = [pair for asset, pair in pairs.items() if asset != "BTC"]
    assert others and all(pair["flags"] == [] for pair in others)  # stale rows are left out by default
    assert [pair["net_apr"] for pair in pairs.values()] == sorted(
        (pair["net_apr"] for pair in pairs.values()), reverse=True
    )


def test_top_filters_linear_only_venues_and_open_interest(collected):
    (btc,) = [
        p
        for p in json.loads(top(collected, "--json", "--linear-only", "--limit", "500", *ALLOW_OFF_INDEX))
        if p["asset"] == "BTC"
    ]
    assert (btc["short"]["exchange"], btc["short"]["funding_rate"]) == ("hyperliquid", 1.25e-05)
    # (0.008291 + 0.0000125) × 8760 − 2 × (0.001 + 0.00045) × 8760 / 168 = 72.73866 − 0.15121 = 72.58745
    assert btc["net_apr"] == pytest.approx(72.58745, rel=1e-6)
    pairs = json.loads(top(collected, "--json", "--exchanges", "hyperliquid,dydx", "--limit", "500"))
    assert len(pairs) > 50
    assert all({p["long"]["exchange"], p["short"]["exchange"]} == {"hyperliquid", "dydx"} for p in pairs)
    big = json.loads(top(collected, "--json", "--min-oi-usd", "1e8"))
    assert all(leg["open_interest_usd"] >= 1e8 for pair in big for leg in (pair["long"], pair["short"]))
    (btc,) = [p for p in big if p["asset"] == "BTC"]
    # Deribit 1.742e-05 / 8 = 2.1775e-06 per hour against Hyperliquid's 1.25e-05: 1.03225e-05 per hour;
    # × 8760 = 0.090425, less 2 × (0.0005 + 0.00045) × 8760 / 168 = 0.099071: net −0.008646
    assert (btc["long"]["exchange"], btc["short"]["exchange"]) == ("deribit", "hyperliquid")
    assert btc["net_apr"] == pytest.approx(-0.0086463, rel=1e-4)
    assert json.loads(top(collected, "--json", "--min-oi-usd", "1e8", "--min-net-apr", "0")) == [
        p for p in big if p["net_apr"] >= 0
    ]


def test_top_on_replayed_data_marks_the_stale_pairs_it_is_allowed_to_use(collected):
    table = top(collected, "--limit", "5", *ALLOW_OFF_INDEX)
    assert "coinbaseintl BTC-PERP" in table and "-0.8291%/1h" in table and "7324.5%" in table  # percent here
    assert "rows left out:" in table and "stale" in table and "--allow-flags stale" in table
    plain = json.loads(top(collected, "--json", "--limit", "1000"))
    marked = json.loads(top(collected, "--json", "--limit", "1000", "--allow-flags", "stale"))
    assert len(marked) > len(plain)
    stale = [p for p in marked if "stale" in p["flags"]]
    assert stale and all("stale" in p["long"]["flags"] + p["short"]["flags"] for p in stale)
    assert all(p["long"]["interval_hours"] and p["short"]["interval_hours"] for p in marked)


def test_top_csv_has_the_flat_columns_and_a_row_per_pair(collected):
    rows = list(csv.DictReader(io.StringIO(top(collected, "--csv", "--limit", "3"))))
    assert len(rows) == 3 and list(rows[0]) == flat_columns()
    assert (rows[0]["asset"], rows[0]["long_exchange"], rows[0]["long_funding_rate"]) == (
        "ETH",
        "coinbaseintl",
        "-0.00015",
    )


def _rates(db, *args):
    result = CliRunner().invoke(main, ["rates", "--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_rates_csv_matches_rates_json(collected):
    as_json = json.loads(_rates(collected, "--json", "--exchange", "okx"))
    rows = list(csv.DictReader(io.StringIO(_rates(collected, "--csv", "--exchange", "okx"))))
    assert [r["native_symbol"] for r in rows] == [r["native_symbol"] for r in as_json]
    btc = next(r for r in rows if r["native_symbol"] == "BTC-USDT-SWAP")
    assert (btc["funding_rate"], btc["interval_hours"], btc["next_funding_time"]) == (
        "0.0001",
        "8.0",
        "2026-09-19T16:00:00Z",
    )
    assert btc["flags"] == "stale" and btc["mark_price"] == ""  # lists joined by ';', unknowns empty
    one = next(r for r in rows if r["native_symbol"] == "ONE-USDT-SWAP")
    assert one["flags"] == "stale;unlisted" and float(one["funding_rate"]) == -0.0018087460514744


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--csv"],
        ["--allow-flags", "interval_unknown"],
        ["--allow-flags", "bogus"],
        ["--taker-fee", "okx"],
        ["--taker-fee", "okx=nan"],
        ["--taker-fee", "okx=0.5"],
        ["--taker-fee", "nosuch=0.001"],
        ["--hold-hours", "0"],
        ["--hold-hours", "1e-300"],
        ["--hold-hours", "87601"],
        ["--min-net-apr", "nan"],
        ["--min-oi-usd", "nan"],
        ["--min-volume-usd", "-1"],
        ["--exchanges", "nowhere"],
    ],
)
def test_top_refuses_nonsense_options(collected, args):
    result = CliRunner().invoke(main, ["top", "--db", collected, *args])
    assert result.exit_code == 2, (args, result.output)


def test_top_and_rates_csv_refuse_a_missing_database(tmp_path):
    for command in (["top"], ["rates", "--csv"]):
        result = CliRunner().invoke(main, [*command, "--db", str(tmp_path / "typo.db")])
        assert result.exit_code == 1 and "no database at" in result.output
    assert CliRunner().invoke(main, ["rates", "--json", "--csv", "--db", str(tmp_path / "x")]).exit_code == 2
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")  # an empty file is no store either, and is left empty
    for command in (["top"], ["rates"], ["cycles"]):
        result = CliRunner().invoke(main, [*command, "--db", str(empty)])
        assert result.exit_code == 1 and "no Funding Finder tables in" in result.output
    assert empty.stat().st_size == 0


def test_a_taker_fee_override_changes_the_fees(collected):
    (eth, *_) = json.loads(top(collected, "--json", "--taker-fee", "coinbaseintl=0.0002"))
    assert eth["long"]["taker_fee"] == 0.0002 and eth["fees"] == pytest.approx(
        0.0014
    )  # 2 × (0.0002 + 0.0005)
