"""Bitfinex v2 public endpoints: https://docs.bitfinex.com/reference/rest-public-derivatives-status

Status endpoints (`/v2/status/deriv` and its `/hist`) allow 90 requests per minute per IP, each endpoint
counted on its own. Over it: HTTP 429 with the recorded `["error", 11010, "ratelimit: error"]` body and a
Retry-After (one was reported with `Retry-After: 63`); the real venue then blocks that endpoint 10-60 s.
"""

from __future__ import annotations

from funding_finder.simulator.spec import Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits, recorded

STATUS = "/v2/status/deriv"

VENUE = SimVenue(
    id="bitfinex",
    routes={
        RouteKey(
            "bitfinex", "GET", STATUS, (("keys", "ALL"),)
        ): "v2-status-deriv-keys-ALL__arb-chain-bot-20260827.trimmed.json",
        RouteKey("bitfinex", "GET", STATUS, (("keys", "tBTCF0:USTF0"),)): "status-deriv.json",
    },
    limits=VenueLimits(
        pools=(Pool("status", 90, 60.0, scope=("endpoint",)),),
        charges=(
            Charge("GET", STATUS, (("status", 1),)),
            Charge("GET", STATUS + "/{key}/hist", (("status", 1),)),
        ),
        over_limit=OverLimit(429, recorded("bitfinex", "429-v2.json"), retry_after=True),
    ),
    empty_body="[]",
)
