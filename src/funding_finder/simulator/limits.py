"""Each venue's published REST limits, as the simulator enforces them (its own table, on purpose).

This table is written from the venues' documentation (see the "Rate limits" and "Errors" parts of the
venue handbook) and never imported from `funding_finder.exchanges`: the simulator exists to catch an
adapter that declares a limit wrongly, which it could not do if both read the same numbers.

A venue has pools (capacity per sliding window, and what is counted together), charge rows (which
request costs how much in which pool; the first matching row wins) and the reply a venue sends once a
request would cross a pool. Adding a venue is adding one `VenueLimits` row to `LIMITS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from funding_finder.recordings import load_bytes, load_json

ANY = "*"  # a charge row's method or path that matches every request of the venue


@dataclass(frozen=True)
class Pool:
    """At most `capacity` units in any `window_s` seconds (sliding), per client IP.

    `scope` adds key parts, each counted separately: "endpoint" (the request path) or
    "param:<name>" (that query/body parameter's value, e.g. OKX counts IP + instId).
    """

    name: str
    capacity: int
    window_s: float
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class Charge:
    """A request matching `method`, `path` (template, "{x}" = one segment, or ANY) and `match`
    (parameter → required value, or None = present with any value) costs `costs` units per pool."""

    method: str
    path: str
    costs: tuple[tuple[str, int], ...]
    match: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class OverLimit:
    """What the venue answers to a request over a pool; `body(pool)` may name the pool's limit."""

    status: int
    body: Callable[[Pool], bytes]
    content_type: str = "application/json"
    retry_after: bool = False  # send Retry-After (seconds until the window frees)


@dataclass(frozen=True)
class UsageHeader:
    """A header on every venue answer: `value` is "used", "limit", "remaining" or "reset_epoch_s"."""

    name: str
    pool: str
    value: str


@dataclass(frozen=True)
class VenueLimits:
    pools: tuple[Pool, ...]
    charges: tuple[Charge, ...]
    over_limit: OverLimit
    headers: tuple[UsageHeader, ...] = ()

    def pool(self, name: str) -> Pool:
        return next(p for p in self.pools if p.name == name)


def _fixed(body: bytes) -> Callable[[Pool], bytes]:
    return lambda _pool: body


def _recorded(venue: str, name: str) -> Callable[[Pool], bytes]:
    return _fixed(load_bytes(venue, name))


def _binance_body(pool: Pool) -> bytes:
    # The only recorded Binance 429 body is the spot API's of 2019 ("current limit is 1200 requests per
    # minute"); the code and wording are kept, the number and period are the exceeded pool's.
    recorded = load_json("binance", "429-spot-2019.real.json")
    per = "minute" if pool.window_s == 60 else f"{pool.window_s / 60:g} minutes"
    limit = f"{pool.capacity} requests per {per}"
    recorded["msg"] = recorded["msg"].replace("1200 requests per minute", limit)
    return json.dumps(recorded, separators=(",", ":")).encode()


LIMITS: dict[str, VenueLimits] = {
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info (limits also in
    # exchangeInfo.rateLimits: REQUEST_WEIGHT 2400 / 1 min). fundingInfo weighs 0 but shares a
    # 500 / 5 min / IP bucket with fundingRate.
    "binance": VenueLimits(
        pools=(Pool("weight", 2400, 60.0), Pool("funding", 500, 300.0)),
        charges=(
            Charge("GET", "/fapi/v1/premiumIndex", (("weight", 1),), match=(("symbol", None),)),
            Charge("GET", "/fapi/v1/premiumIndex", (("weight", 10),)),
            Charge("GET", "/fapi/v1/exchangeInfo", (("weight", 1),)),
            Charge("GET", "/fapi/v1/fundingInfo", (("weight", 0), ("funding", 1))),
            Charge("GET", "/fapi/v1/fundingRate", (("weight", 0), ("funding", 1))),
            Charge(ANY, ANY, (("weight", 1),)),
        ),
        over_limit=OverLimit(429, _binance_body, retry_after=True),
        headers=(UsageHeader("X-MBX-USED-WEIGHT-1M", "weight", "used"),),
    ),
    # OKX: funding-rate 10 / 2 s per IP + instId (every ANY call shares one window); instruments 20 / 2 s.
    "okx": VenueLimits(
        pools=(
            Pool("funding-rate", 10, 2.0, scope=("param:instId",)),
            Pool("instruments", 20, 2.0),
        ),
        charges=(
            Charge("GET", "/api/v5/public/funding-rate", (("funding-rate", 1),)),
            Charge("GET", "/api/v5/public/instruments", (("instruments", 1),)),
        ),
        over_limit=OverLimit(429, _recorded("okx", "429.real-2024.json")),
    ),
    # Bybit: 600 requests / 5 s per IP for all traffic (docs/v5/rate-limit). Over it the docs describe
    # an HTTP 403 "access too frequent" IP ban; no body was ever recorded, so this text is the documented
    # wording only.
    "bybit": VenueLimits(
        pools=(Pool("ip", 600, 5.0),),
        charges=(Charge(ANY, ANY, (("ip", 1),)),),
        over_limit=OverLimit(403, _fixed(b"access too frequent"), content_type="text/plain"),
    ),
    # Hyperliquid: 1200 weight / 60 s per IP for all REST; most info requests weigh 20, a few 2, userRole
    # 60. The 429 body is undocumented: this short JSON is the simulator's own.
    "hyperliquid": VenueLimits(
        pools=(Pool("weight", 1200, 60.0),),
        charges=(
            *(
                Charge("POST", "/info", (("weight", 2),), match=(("type", kind),))
                for kind in (
                    "l2Book",
                    "allMids",
                    "clearinghouseState",
                    "orderStatus",
                    "spotClearinghouseState",
                    "exchangeStatus",
                )
            ),
            Charge("POST", "/info", (("weight", 60),), match=(("type", "userRole"),)),
            *(
                Charge("POST", "/info", (("weight", 20),), match=(("type", kind),))
                for kind in ("metaAndAssetCtxs", "predictedFundings", "fundingHistory")
            ),
            Charge(ANY, ANY, (("weight", 20),)),
        ),
        over_limit=OverLimit(429, _fixed(b'{"error":"Too many requests"}')),
    ),
    # Gate: public endpoints 200 requests / 10 s per endpoint per IP, usage headers on every answer.
    "gate": VenueLimits(
        pools=(Pool("public", 200, 10.0, scope=("endpoint",)),),
        charges=(Charge(ANY, ANY, (("public", 1),)),),
        over_limit=OverLimit(
            429, _fixed(b'{"label":"TOO_MANY_REQUESTS","message":"Request Rate Limit Exceeded"}')
        ),
        headers=(
            UsageHeader("X-Gate-RateLimit-Limit", "public", "limit"),
            UsageHeader("X-Gate-RateLimit-Requests-Remain", "public", "remaining"),
            UsageHeader("X-Gate-RateLimit-Reset-Timestamp", "public", "reset_epoch_s"),
        ),
    ),
    # MEXC contract API: market endpoints 20 / 2 s, detail 1 / 5 s. The docs state neither whether the
    # 20 / 2 s is per endpoint nor per IP; the simulator takes the stricter reading (one window shared by
    # the market endpoints, per IP), so a client that passes here passes on the venue.
    # The recorded 510 body does not say its HTTP status. MEXC delivers its errors inside HTTP 200
    # envelopes, and 200 is the harder case for a client (it must read the body to notice), so 200.
    "mexc": VenueLimits(
        pools=(Pool("market", 20, 2.0), Pool("detail", 1, 5.0)),
        charges=(
            Charge("GET", "/api/v1/contract/detail", (("detail", 1),)),
            Charge(ANY, ANY, (("market", 1),)),
        ),
        over_limit=OverLimit(200, _recorded("mexc", "api-v1-contract-ticker-error510__arb-chain-bot.json")),
    ),
}
