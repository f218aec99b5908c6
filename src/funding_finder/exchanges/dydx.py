"""dYdX v4 perpetuals: every market in one `GET /v4/perpetualMarkets` call to the public indexer.

API docs: https://docs.dydx.xyz/indexer-client/http (funding: dydxprotocol/v4-documentation
`docs/pages/concepts/trading/funding.mdx`; limit: dydxprotocol/v4-chain
`indexer/services/comlink/src/config.ts`).

The answer is an object keyed by ticker, `{"markets": {"BTC-USD": {…}, …}}` (server page size 1000, so
one call holds every market); no envelope code, errors are HTTP 4xx with an `errors` array. Fields used
(strings unless noted):
- `ticker` `BASE-USD`; a permissionless market's base is `SYMBOL,DEX,ADDRESS` (`FARTCOIN,RAYDIUM,9BB6…`)
  and only the symbol before the first comma is the asset; native_symbol keeps the whole ticker;
- `nextFundingRate`: fraction **per hour**, the running estimate of the current hour (premium / 8 plus
  `defaultFundingRate1H`), never an 8 h rate; briefly absent or null after each full hour: such a market
  is skipped that cycle (not counted malformed), never stored as 0;
- `oraclePrice` (USD) is both mark and index; `openInterest` in **base units** (× oraclePrice = USD);
  `volume24H` in **USD**.

Interval: the protocol's constant 1 h (funding is paid every hour); the response has no time field, so
the settlement is the next full UTC hour after `observed_at`, the one derived value.
Filters: `status == "ACTIVE"` only (PAUSED, CANCEL_ONLY, POST_ONLY, INITIALIZING and FINAL_SETTLEMENT are
dropped: settled markets keep showing the default rate); a market without `status` is kept.
Symbols: USD-labelled, USDC-collateralised ⇒ `BTC/USD:USDC`, linear. dYdX publishes no asset-class
field (XAUT-USD, WTI-USD, TSLAX-USD carry none), so every row is `crypto`.
Limits: 100 requests per 10 s per IP on the indexer. Its `Retry-After` (on a 429) is in **milliseconds**
(`retry_after_unit_s`); `RateLimit-Reset` is epoch ms. The adapter stays far below the limit (one call
per cycle).
History (`backfill`): `GET /v4/historicalFunding/{ticker}?limit=&effectiveBeforeOrAt=` (ISO time): rows
`ticker`, `rate` (string fraction per hour, settled), `price` (oracle price, USD: stored as the mark),
`effectiveAt` (ISO, the top of the hour plus block latency), `effectiveAtHeight`; newest first, at most
`limit` rows (the indexer caps it at 1000), so it pages backward by `effectiveBeforeOrAt`; there is no
start parameter, so a page reaching before the range ends the contract. Charged 1 to the indexer's limit.
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
    field_of,
    iso_of_ms,
    ms_of_iso,
    parse_rows,
    product,
)
from funding_finder.exchanges.base import text as name_of
from funding_finder.model import SettledFunding, number, optional_number, settled
from funding_finder.ratelimit import Limit

VENUE = "dydx"
RATES = "perpetualMarkets"
HISTORY = "historicalFunding"
INTERVAL_HOURS = 1.0
QUOTE_LABEL = "USD"
SETTLE = "USDC"
TRADING_STATUS = "ACTIVE"

SPEC = VenueSpec(
    id=VENUE,
    name="dYdX v4",
    hosts={"api": "https://indexer.dydx.trade"},
    endpoints=(Endpoint(RATES, "/v4/perpetualMarkets", Role.RATES),),
    # Indexer (comlink) rate limit: 100 requests per 10 s per IP, every public endpoint counted together.
    limits=(Limit("indexer", 100, 10.0),),
    docs_url="https://docs.dydx.xyz/indexer-client/http",
    workers=1,
    retry_after_unit_s=0.001,  # a 429's Retry-After is in milliseconds
    history=HistorySpec(
        Endpoint(HISTORY, "/v4/historicalFunding/{symbol}", Role.RATES),
        page_rows=1000,  # the indexer's largest `limit`
        params=lambda ticker, start_ms, end_ms, rows: {
            "limit": rows,
            "effectiveBeforeOrAt": iso_of_ms(end_ms),
        },
        parse=lambda payload, ticker: parse_history(payload, ticker),
        paging="backward",
        workers=3,  # 100 per 10 s: 10 calls a second, about 2 in flight at a 150 ms round trip
    ),
)


class Market(NamedTuple):
    ticker: str
    listed_base: str
    funding_rate_1h: float
    oracle_price: float | None
    open_interest_base: float | None
    volume_24h_usd: float | None


def split_ticker(ticker: str) -> str:
    """`BTC-USD` → `BTC`; `FARTCOIN,RAYDIUM,9BB6…PUMP-USD` → `FARTCOIN`; other quotes are an error."""
    base, quote = ticker.rsplit("-", 1)
    symbol = base.split(",", 1)[0]
    if quote != QUOTE_LABEL or not symbol:
        raise ValueError(f"not a BASE-USD ticker: {ticker!r}")
    return symbol


def _market(row: Any) -> Market | None:
    status = row.get("status")
    if status is not None and status != TRADING_STATUS:
        return None
    rate = row["nextFundingRate"]  # absent is a malformed row, counted; null or "" is not
    if rate is None or rate == "":
        return None  # between the hour's settlement and the first new sample: no value this cycle
    ticker = name_of(row["ticker"])
    return Market(
        ticker=ticker,
        listed_base=split_ticker(ticker),
        funding_rate_1h=number(rate),
        oracle_price=optional_number(row.get("oraclePrice")),
        open_interest_base=optional_number(row.get("openInterest")),
        volume_24h_usd=optional_number(row.get("volume24H")),
    )


def parse_perpetual_markets(payload: Any) -> Parsed[Market]:
    """`{"markets": {ticker: market}}` → ACTIVE markets; not an object is BadPayload, none EmptyPayload."""
    markets = field_of(VENUE, RATES, payload, "markets")
    if not isinstance(markets, dict):
        raise BadPayload(VENUE, RATES, f"markets is a {type(markets).__name__}, not an object by ticker")
    if not markets:
        raise EmptyPayload(VENUE, RATES, "no markets")
    return parse_rows(VENUE, RATES, list(markets.values()), _market)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_perpetual_markets(payloads[RATES])
    settlement = model.next_full_hour(observed_at)
    rows = []
    for market in parsed.items:
        open_interest = product(market.open_interest_base, market.oracle_price)
        rows.append(
            model.make_rate(
                exchange=VENUE,
                native_symbol=market.ticker,
                listed_base=market.listed_base,
                quote=QUOTE_LABEL,
                settle=SETTLE,
                contract_type="linear",
                funding_rate=market.funding_rate_1h,
                interval_hours=INTERVAL_HOURS,
                next_funding_time=settlement,
                observed_at=observed_at,
                mark_price=market.oracle_price,
                index_price=market.oracle_price,
                open_interest_usd=model.usd_value(open_interest, QUOTE_LABEL),
                volume_24h_usd=model.usd_value(market.volume_24h_usd, QUOTE_LABEL),
            )
        )
    return BuildResult(rows, bad_rows=parsed.bad_rows)


def parse_history(payload: Any, ticker: str) -> Parsed[SettledFunding]:
    """`historicalFunding` rows of `ticker`: `effectiveAt` (ISO), `rate` (string fraction per hour,
    settled), `price` (oracle, USD); rows of another ticker are dropped."""

    def one(row: Any) -> SettledFunding | None:
        if name_of(row["ticker"]) != ticker:
            return None
        return settled(VENUE, ticker, ms_of_iso(row["effectiveAt"]), row["rate"], row.get("price"))

    return parse_rows(VENUE, HISTORY, field_of(VENUE, HISTORY, payload, "historicalFunding"), one)
