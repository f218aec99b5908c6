"""Hyperliquid perpetuals (main dex): one `POST /info {"type": "metaAndAssetCtxs"}` per cycle.

API docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals

The response is `[meta, assetCtxs]`; `meta.universe[i]` describes `assetCtxs[i]` (zipped by position).
Fields used, all strings:
- universe `name` (`BTC`; `kPEPE` = 1000 PEPE, split by `model.split_multiplier`), `isDelisted` (dropped);
- ctx `funding`: fraction **per hour** of the running period, `markPx` (mark), `oraclePx` (index),
  `openInterest` in **base units** (× markPx = USD), `dayNtlVlm`: 24 h notional volume in USD(C).

Interval: fixed 1 h; funding is paid at the top of every UTC hour (documented), so the settlement time is
the next full hour after `observed_at` — the one place a time is derived rather than read.
`predictedFundings`' HlPerp rate is the current period again, not the period after: predicted_rate is None.
Contracts are linear and USDC-collateralised: `NAME/USDC:USDC`.
History (`backfill`): `POST /info {"type": "fundingHistory", "coin", "startTime", "endTime"}` (epoch ms,
inclusive): rows `coin`, `fundingRate` (string fraction per interval, settled), `premium`, `time` (ms,
with jitter), oldest first, at most 500 a response, so it pages forward by `startTime`; no mark price.
The interval is not fixed over history (8-hourly until 2023-06-08, hourly after), so each row's comes
from the gap to the one before. Weight 20 plus 1 per 20 rows returned: 45 for a full page of 500, the
figure charged to every call (the answer's size is not known before it arrives).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from funding_finder import model
from funding_finder.errors import BadPayload, EmptyPayload
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    HistorySpec,
    Parsed,
    Role,
    VenueSpec,
    parse_rows,
    product,
    text,
)
from funding_finder.model import SettledFunding, number, optional_number, settled
from funding_finder.ratelimit import Limit

VENUE = "hyperliquid"
RATES = "metaAndAssetCtxs"
HISTORY = "fundingHistory"
HISTORY_PAGE_ROWS = 500
"""The most rows one fundingHistory answer holds."""
HISTORY_WEIGHT = 20 + HISTORY_PAGE_ROWS // 20
"""Weight of a fundingHistory call: 20, plus 1 per 20 rows returned (a full page)."""
INTERVAL_HOURS = 1.0
QUOTE = SETTLE = "USDC"

SPEC = VenueSpec(
    id=VENUE,
    name="Hyperliquid",
    hosts={"api": "https://api.hyperliquid.xyz"},
    endpoints=(Endpoint(RATES, "/info", Role.RATES, method="POST", json_body={"type": "metaAndAssetCtxs"}),),
    # 1200 weight per minute per IP, shared by every REST call; the info requests we use weigh 20, and
    # fundingHistory 1 more per 20 rows returned
    # (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits-and-user-limits).
    limits=(
        Limit(
            "weight",
            1200,
            60.0,
            costs={"metaAndAssetCtxs": 20, "predictedFundings": 20, HISTORY: HISTORY_WEIGHT},
            default_cost=20,
        ),
    ),
    docs_url="https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals",
    workers=1,
    history=HistorySpec(
        Endpoint(HISTORY, "/info", Role.RATES, method="POST", json_body={"type": HISTORY}),
        page_rows=HISTORY_PAGE_ROWS,
        params=lambda coin, start_ms, end_ms, rows: {"coin": coin, "startTime": start_ms, "endTime": end_ms},
        parse=lambda payload, coin: parse_history(payload, coin),
    ),
)


class Asset(NamedTuple):
    """One listed (not delisted) asset of the main dex with its context."""

    name: str
    funding_rate: float
    mark_price: float | None
    index_price: float | None
    open_interest_base: float | None
    volume_24h_usd: float | None


def _asset(pair: tuple[Any, Any]) -> Asset | None:
    meta, ctx = pair
    if meta.get("isDelisted") is True:
        return None
    name = meta["name"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"bad asset name {name!r}")
    return Asset(
        name=name,
        funding_rate=number(ctx["funding"]),
        mark_price=optional_number(ctx.get("markPx")),
        index_price=optional_number(ctx.get("oraclePx")),
        open_interest_base=optional_number(ctx.get("openInterest")),
        volume_24h_usd=optional_number(ctx.get("dayNtlVlm")),
    )


def parse_meta_and_asset_ctxs(payload: Any) -> Parsed[Asset]:
    """`[meta, assetCtxs]` → listed assets; a universe/ctx length mismatch would misalign every row."""
    if not isinstance(payload, list) or len(payload) != 2:
        raise BadPayload(VENUE, RATES, "expected [meta, assetCtxs]")
    meta, ctxs = payload
    universe = meta.get("universe") if isinstance(meta, dict) else None
    if not isinstance(universe, list) or not isinstance(ctxs, list):
        raise BadPayload(VENUE, RATES, "expected meta.universe and assetCtxs to be lists")
    if len(universe) != len(ctxs):
        raise BadPayload(VENUE, RATES, f"{len(universe)} universe entries but {len(ctxs)} asset contexts")
    if not universe:
        raise EmptyPayload(VENUE, RATES, "empty universe")
    return parse_rows(VENUE, RATES, list(zip(universe, ctxs, strict=True)), _asset)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_meta_and_asset_ctxs(payloads[RATES])
    next_funding_time = model.next_full_hour(observed_at)
    rows = []
    for asset in parsed.items:
        open_interest = product(asset.open_interest_base, asset.mark_price)
        rows.append(
            model.make_rate(
                exchange=VENUE,
                native_symbol=asset.name,
                listed_base=asset.name,
                quote=QUOTE,
                settle=SETTLE,
                contract_type="linear",
                funding_rate=asset.funding_rate,
                interval_hours=INTERVAL_HOURS,
                next_funding_time=next_funding_time,
                observed_at=observed_at,
                mark_price=asset.mark_price,
                index_price=asset.index_price,
                open_interest_usd=model.usd_value(open_interest, QUOTE),
                volume_24h_usd=model.usd_value(asset.volume_24h_usd, QUOTE),
            )
        )
    return BuildResult(rows, bad_rows=parsed.bad_rows)


def parse_history(payload: Any, coin: str) -> Parsed[SettledFunding]:
    """`fundingHistory` rows of `coin`: `time` (int ms), `fundingRate` (string fraction per interval,
    settled); rows of another coin are dropped."""

    def one(row: Any) -> SettledFunding | None:
        if text(row["coin"]) != coin:
            return None
        return settled(VENUE, coin, row["time"], row["fundingRate"])

    return parse_rows(VENUE, HISTORY, payload, one)
