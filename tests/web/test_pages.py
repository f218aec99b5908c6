"""The pages, rendered by the test client against the simulator-filled database (see conftest.py)."""

import html
import json
import re
from urllib.parse import quote

import pytest
from markupsafe import escape

from web.conftest import HOSTILE, HOSTILE_ERROR

HOSTILE_ASSET_URL = "/asset/" + quote(HOSTILE, safe="")
PAGES = [
    ("/?limit=500", HOSTILE),
    ("/?allow_flags=stale&limit=500", HOSTILE),
    ("/rates?limit=2000", HOSTILE),
    (f"/rates?asset={quote(HOSTILE)}", HOSTILE),
    ("/asset/BTC", None),
    (HOSTILE_ASSET_URL, HOSTILE),
    ("/venues", HOSTILE_ERROR),
]
"""Every page, and the hostile string it must show (escaped)."""


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
    assert response.content_type.startswith("text/html")
    return response.get_data(as_text=True)


def cells(text, row_pattern):
    """The text of every cell of the first table row matching `row_pattern`."""
    row = next(r for r in re.findall(r"<tr>.*?</tr>", text, re.S) if re.search(row_pattern, r))
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_opportunities_page_shows_the_best_pair_in_percent(client):
    text = page(client, "/")
    btc = cells(text, r'href="/asset/BTC"')
    assert "dydx BTC-USD" in " ".join(btc[1].split()) and "-0.0043% / 1 h" in btc[1]
    # APR 1.150384 = 115.0 %; net over 168 h 1.046098 = 104.6 % (tests/test_cli_top.py)
    assert (btc[4], btc[5]) == ("115.0%", "104.6%")
    text = page(client, "/?allow_flags=mark_off_index")
    btc = cells(text, r'href="/asset/BTC"')
    assert btc[0] == "BTC"
    assert "coinbaseintl BTC-PERP" in " ".join(btc[1].split()) and "-0.8291% / 1 h" in btc[1]
    assert "krakenfutures PI_XBTUSD" in " ".join(btc[2].split()) and "inverse" in btc[2]
    # APR 73.40128 = 7340.1 %; net over 168 h 73.24485 = 7324.5 % (tests/test_cli_top.py)
    assert (btc[4], btc[5]) == ("7340.1%", "7324.5%")
    assert "rows left out" in text and "allow stale" in text


def test_rates_page_sorts_on_the_server_and_pages(client):
    text = page(client, "/rates?sort=apr&order=desc&limit=5")
    shown = [
        (c[0], c[1]) for c in map(lambda r: cells(r, "venue"), re.findall(r"<tr>.*?</tr>", text, re.S)[1:])
    ]
    top5 = client.get("/api/rates?sort=apr&order=desc&limit=5").get_json()["items"]
    assert shown == [
        (r["exchange"], r["symbol"] + (" inverse" if r["contract_type"] == "inverse" else "")) for r in top5
    ]
    aprs = [float(v) for v in re.findall(r'<td class="num strong"><span class="\w+">(-?[\d.]+)%', text)]
    assert len(aprs) == 5 and aprs == sorted(aprs, reverse=True)
    assert aprs == [round(r["apr"] * 100, 1) for r in top5]
    ascending = page(client, "/rates?sort=apr&order=asc&limit=5")
    low = [float(v) for v in re.findall(r'<td class="num strong"><span class="\w+">(-?[\d.]+)%', ascending)]
    assert low == sorted(low) and low[0] == round(-0.008291 * 8760 * 100, 1)  # Coinbase Intl BTC-PERP, 1 h
    assert "next →" in text and "1–5 of" in text
    okx = page(client, "/rates?exchange=okx&q=BTC-USDT-SWAP")
    row = cells(okx, r'title="BTC-USDT-SWAP"')
    assert (row[0], row[3], row[4], row[5]) == ("okx", "0.0100%", "8 h", "0.00125%")
    assert 'datetime="2026-09-19T16:00:00Z"' in okx  # the countdown's target


def test_asset_page_lists_every_venue_and_embeds_its_chart_data(client):
    text = page(client, "/asset/BTC")
    assert "across" in text and "krakenfutures" in text and "coinbaseintl" in text
    data = json.loads(
        html.unescape(re.search(r'id="history-chart-data">(.*?)</script>', text, re.S).group(1))
    )
    assert "coinbaseintl BTC-PERP" in data["labels"] and len(data["x"]) >= 1
    coinbase = data["series"][data["labels"].index("coinbaseintl BTC-PERP")]
    assert -0.008291 * 8760 * 100 in [v for v in coinbase if v is not None]  # APR in percent
    assert page(client, "/asset/BTC?days=30") and page(client, "/asset/NOSUCHASSET", status=404)


def test_venue_health_page_shows_every_venue(client):
    text = page(client, "/venues")
    assert len(re.findall(r'<td class="venue">', text)) == 24
    binance = cells(text, r'<td class="venue">binance</td>')
    assert binance[1].startswith("partial") and "bad_payload" in binance[6]
    assert 'id="failures-chart-data"' in text
    gate = cells(text, r'<td class="venue">gate</td>')
    (health,) = [v for v in client.get("/api/venues/health").get_json()["venues"] if v["exchange"] == "gate"]
    assert gate[-1] == f"{health['latency_ms']['p95_ms']:.0f} ms" and gate[3] == str(health["rows_now"])


@pytest.mark.parametrize(("url", "shown"), PAGES)
def test_hostile_strings_are_escaped_on_every_page(client, url, shown):
    text = page(client, url)
    assert HOSTILE not in text and HOSTILE_ERROR not in text and "<script>alert" not in text
    assert "<img" not in text
    if shown is not None:
        assert str(escape(shown)) in text


def test_hostile_chart_labels_are_json_escaped(client):
    text = page(client, HOSTILE_ASSET_URL)
    blob = re.search(r'id="history-chart-data">(.*?)</script>', text, re.S).group(1)
    assert "<" not in blob and json.loads(blob)["labels"] == [f"binance {HOSTILE}USDT", f"okx {HOSTILE}USDT"]


def test_pages_forbid_inline_scripts_and_framing(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy and response.headers["X-Frame-Options"] == "DENY"
    text = response.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text)
    assert inline == [] and "http://" not in text.replace("http://localhost", "")


def test_bad_page_parameters_are_a_400_page(client):
    assert "limit" in page(client, "/rates?limit=0", status=400)
    assert "sort" in page(client, "/rates?sort=nope", status=400)
    assert "days" in page(client, "/asset/BTC?days=99", status=400)
