"""What the simulator answers: each venue's real API paths mapped to recordings shipped in the package.

`ROUTES` maps (venue, method, path, required parameters) to a recording file name under
`funding_finder.recordings/<venue>/`; the recorded bytes are served unchanged. Parameters are the query
string of a GET or the top-level fields of a POST's JSON body. A parameter named by any route of a path
must match exactly (absent where the route does not name it); parameters no route names are ignored.
`FALLBACKS` hold the venue's own answer to a known path with no recording (an unknown instrument and
the like); anything else is a 404 naming the venue and path. Adding a venue is adding rows here and one
row in `limits.LIMITS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Match = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RouteKey:
    venue: str
    method: str
    path: str
    match: Match = ()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


ROUTES: dict[RouteKey, str] = {
    RouteKey("binance", "GET", "/fapi/v1/premiumIndex"): "fapi-v1-premiumIndex__noahark-20260704T1556Z.json",
    RouteKey("binance", "GET", "/fapi/v1/fundingInfo"): "fapi-v1-fundingInfo__noahark-20260704T1556Z.json",
    RouteKey("binance", "GET", "/fapi/v1/exchangeInfo"): "fapi-v1-exchangeInfo__noahark-20260704T1556Z.json",
    RouteKey(
        "okx", "GET", "/api/v5/public/funding-rate", (("instId", "ANY"),)
    ): "public-funding-rate-instId-ANY.derived.json",
    RouteKey(
        "okx", "GET", "/api/v5/public/funding-rate", (("instId", "BTC-USDT-SWAP"),)
    ): "public-funding-rate-BTC-USDT-SWAP__arb-chain-bot-20260827.json",
    RouteKey(
        "okx", "GET", "/api/v5/public/funding-rate", (("instId", "ETH-USDT-SWAP"),)
    ): "public-funding-rate-ETH-USDT-SWAP__tripwire-20260917.json",
    RouteKey(
        "okx", "GET", "/api/v5/public/instruments", (("instType", "SWAP"),)
    ): "instruments-SWAP__nautilus.json",
    RouteKey(
        "bybit", "GET", "/v5/market/tickers", (("category", "linear"),)
    ): "v5-market-tickers-linear__arb-chain-bot-20260827.trimmed.json",
    RouteKey(
        "bybit", "GET", "/v5/market/tickers", (("category", "linear"), ("symbol", "ETHUSDT"))
    ): "v5-market-tickers-linear-ETHUSDT__tripwire-20260917.json",
    RouteKey(
        "bybit", "GET", "/v5/market/instruments-info", (("category", "linear"),)
    ): "v5-market-instruments-info-linear__cryptofeed-20260809.json",
    RouteKey(
        "hyperliquid", "POST", "/info", (("type", "metaAndAssetCtxs"),)
    ): "info-metaAndAssetCtxs__tripwire-mainnet.json",
    RouteKey(
        "gate", "GET", "/api/v4/futures/usdt/contracts"
    ): "futures-usdt-contracts__arb-chain-bot-20260827.trimmed.json",
    RouteKey(
        "mexc", "GET", "/api/v1/contract/funding_rate"
    ): "api-v1-contract-funding_rate-all__thirdparty-20260909.json",
    RouteKey(
        "mexc", "GET", "/api/v1/contract/funding_rate/BTC_USDT"
    ): "api-v1-contract-funding_rate-BTC_USDT__arb-chain-bot-20260827.json",
    RouteKey(
        "mexc", "GET", "/api/v1/contract/ticker"
    ): "api-v1-contract-ticker__arb-chain-bot-20260827.trimmed.json",
}

# (venue, method, path template) → the venue's answer when no route matches. "{x}" is one path segment.
FALLBACKS: dict[tuple[str, str, str], Reply] = {
    # OKX answers an unknown instId with HTTP 200 and code 51000 (venue handbook, "Errors").
    ("okx", "GET", "/api/v5/public/funding-rate"): Reply(
        200, b'{"code":"51000","data":[],"msg":"Parameter instId error"}'
    ),
    # MEXC: unknown contract → HTTP 200, success false, code 1001 (venue handbook, "Errors").
    ("mexc", "GET", "/api/v1/contract/funding_rate/{symbol}"): Reply(
        200, b'{"success":false,"code":1001,"message":"Contract does not exist"}'
    ),
    # Hyperliquid rejects an info body it cannot deserialize with HTTP 422; the body text is not
    # recorded, this JSON is the simulator's own.
    ("hyperliquid", "POST", "/info"): Reply(
        422, b'{"error":"Failed to deserialize the JSON body into the target type"}'
    ),
}

# The "empty" fault: HTTP 200 with the venue's envelope around an empty row list ("[]" for venues that
# answer a bare list). "{now_ms}" is replaced by the current time.
EMPTY_BODIES: dict[str, str] = {
    "binance": "[]",
    "okx": '{"code":"0","data":[],"msg":""}',
    "bybit": (
        '{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[]},"retExtInfo":{},"time":{now_ms}}'
    ),
    "hyperliquid": "[]",
    "gate": "[]",
    "mexc": '{"success":true,"code":0,"data":[]}',
}

VENUES: tuple[str, ...] = tuple(dict.fromkeys(key.venue for key in ROUTES))


def path_matches(template: str, path: str) -> bool:
    """True when `path` fits `template`, where a "{name}" segment stands for one non-empty segment."""
    want, got = template.split("/"), path.split("/")
    if len(want) != len(got):
        return False
    return all(w == g or (w[:1] == "{" and w[-1:] == "}" and g) for w, g in zip(want, got, strict=True))


def params_match(match: Match, params: Mapping[str, Any]) -> bool:
    """Every (name, value) of `match` is in `params`; a value of None only requires presence."""
    return all(name in params and (value is None or params[name] == value) for name, value in match)


def find_route(venue: str, method: str, path: str, params: Mapping[str, Any]) -> RouteKey | None:
    candidates = [k for k in ROUTES if (k.venue, k.method, k.path) == (venue, method, path)]
    names = {name for key in candidates for name, _ in key.match}
    for key in candidates:
        wanted = dict(key.match)
        if all(params.get(name) == wanted.get(name) for name in names):
            return key
    return None


def find_fallback(venue: str, method: str, path: str) -> Reply | None:
    for (v, m, template), reply in FALLBACKS.items():
        if (v, m) == (venue, method) and path_matches(template, path):
            return reply
    return None
