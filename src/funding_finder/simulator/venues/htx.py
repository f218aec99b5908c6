"""HTX USDT-M swaps (api.hbdm.com): the non-market public interfaces (funding rates, contract info, index,
price limits, open interest…) share 240 requests per 3 s per IP ("API Rate Limit Illustration").

Over the limit HTX answers `err-code` 1032 "Maximum number of access attempts exceeded."; no such body was
recorded and its HTTP status is not documented. HTX delivers its errors inside HTTP 200 envelopes
(`"status":"error"`), and 200 is the harder case for a client (it must read the body to notice), so the
simulator answers 200 with that documented shape (its `ts` is the simulator's clock).
`swap_contract_info` without `business_type` answers swaps (the documented default), so the recording
fetched without params answers the adapter's `business_type=swap` request.
"""

from __future__ import annotations

import json
import time

from funding_finder.simulator.spec import Charge, OverLimit, Pool, RouteKey, SimVenue, VenueLimits

BATCH = "/linear-swap-api/v1/swap_batch_funding_rate"
CONTRACT_INFO = "/linear-swap-api/v1/swap_contract_info"


def _over_limit_body(_pool: Pool) -> bytes:
    body = {
        "status": "error",
        "err-code": 1032,
        "err-msg": "Maximum number of access attempts exceeded.",
        "ts": int(time.time() * 1000),
    }
    return json.dumps(body, separators=(",", ":")).encode()


VENUE = SimVenue(
    id="htx",
    routes={
        RouteKey(
            "htx", "GET", BATCH
        ): "linear-swap-api-v1-swap_batch_funding_rate__arb-chain-bot-20260827.trimmed.json",
        RouteKey(
            "htx", "GET", CONTRACT_INFO, (("business_type", "swap"),)
        ): "linear-swap-api-v1-swap_contract_info__arb-chain-bot-20260827.trimmed.json",
    },
    limits=VenueLimits(
        pools=(Pool("public", 240, 3.0),),
        charges=(
            Charge("GET", BATCH, (("public", 1),)),
            Charge("GET", CONTRACT_INFO, (("public", 1),)),
        ),
        over_limit=OverLimit(200, _over_limit_body),
    ),
    empty_body='{"status":"ok","data":[],"ts":{now_ms}}',
)
