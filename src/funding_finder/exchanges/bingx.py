"""BingX perpetual swap v2 (USDT-M): every contract's current funding in one bulk premiumIndex call.

API docs: https://bingx-api.github.io/docs/#/en-us/swapV2/market-api.html (Mark Price and Funding Rate).

`GET /openApi/swap/v2/quote/premiumIndex` without `symbol` answers `{"code":0,"msg":"","data":[…]}`
(one symbol would make `data` an object: BadPayload here). Fields used, per row:
- `symbol` `BASE-QUOTE` (`BTC-USDT`, `1000PEPE-USDT`) → `BASE/QUOTE:QUOTE`, linear: swap v2 is the
  USDT-margined API (inverse contracts live under `/openApi/cswap/v1`, not collected);
- `lastFundingRate` (string): fraction per interval of the *current* period, despite its name;
- `nextFundingTime` (int, epoch **ms**; the 2023 docs call it "remaining time", but its own example and
  every recording are epoch ms): the settlement of that period;
- `fundingIntervalHours` (int **hours**, newer responses): the interval source, same row. Absent (the
  2023 docs form) ⇒ unknown: BingX documents no default, and history spacing is not fetched;
- `markPrice`, `indexPrice` (strings, quote currency). No open interest or volume here: left None;
- `maxFundingRate` / `minFundingRate` (strings, fractions per interval): the contract's bounds on the
  rate; `rate_cap` is the larger |bound| (absent, as in the 2023 docs form, unreadable or 0 ⇒ skipped,
  never costing the row).

Filters: none. The rows carry no status or type field, and the contract list (`/quote/contracts`) is
not called: it has no recording and its status field is unverified. Every row is kept, listed=True.
Errors: HTTP 200 with `code != 0` ⇒ ExchangeError; `100410` (BingX's documented "rate limitation"
code) ⇒ RateLimited. Limit: the endpoint is in IP group 1; the strictest published reading is
10 requests / s per IP for the group (2024 groups; also the per-interface figure ccxt implies), which
also honours the 2023 "20 req/s per IP" and the newer "500 / 10 s, 1000 / min" group-1 figures.
Unverified: whether the `timestamp` query parameter (marked required in the docs table, sent by ccxt)
is needed on this public call. Endpoint parameters are static data here, so it is not sent; a live
answer of code 100421 ("Null timestamp") would surface as an ExchangeError naming that code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from funding_finder import model
from funding_finder.errors import EmptyPayload
from funding_finder.exchanges.base import (
    S_PER_HOUR,
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    interval_hours,
    parse_rows,
    rate_cap,
    text,
)
from funding_finder.model import number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "bingx"
RATES = "premiumIndex"
RATE_LIMIT_CODES = (100410,)
"""`code` of BingX's rate limitation ("rate limited", "frequency limit rule … disabled period")."""

SPEC = VenueSpec(
    id=VENUE,
    name="BingX",
    hosts={"api": "https://open-api.bingx.com"},
    endpoints=(Endpoint(RATES, "/openApi/swap/v2/quote/premiumIndex", Role.RATES),),
    # IP group 1 (market data): 10 requests per 1 s per IP, the strictest published figure.
    limits=(Limit("group1", 10, 1.0),),
    docs_url="https://bingx-api.github.io/docs/#/en-us/swapV2/market-api.html",
    check_envelope=code_envelope("code", (0,), message_fields=("msg",), rate_limit_codes=RATE_LIMIT_CODES),
    workers=1,
)


class Premium(NamedTuple):
    symbol: str
    listed_base: str
    quote: str
    funding_rate: float
    interval_hours: float | None
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None
    rate_cap: float | None


def split_symbol(symbol: str) -> tuple[str, str]:
    """`BTC-USDT` → (`BTC`, `USDT`); `1000PEPE-USDT` → (`1000PEPE`, `USDT`); ValueError otherwise."""
    base, sep, quote = symbol.rpartition("-")
    if not sep or not base or not quote:
        raise ValueError(f"not a BASE-QUOTE symbol: {symbol!r}")
    return base, quote


def _premium(row: Any) -> Premium:
    symbol = text(row["symbol"])
    listed_base, quote = split_symbol(symbol)
    next_ms = optional_number(row.get("nextFundingTime"))
    return Premium(
        symbol=symbol,
        listed_base=listed_base,
        quote=quote,
        funding_rate=number(row["lastFundingRate"]),
        interval_hours=interval_hours(row.get("fundingIntervalHours"), S_PER_HOUR),  # absent: unknown
        next_funding_time=model.from_ms(next_ms) if next_ms else None,  # 0 ⇒ none
        mark_price=optional_number(row.get("markPrice")),
        index_price=optional_number(row.get("indexPrice")),
        rate_cap=rate_cap(row.get("maxFundingRate"), row.get("minFundingRate")),
    )


def parse_premium_index(payload: Any) -> Parsed[Premium]:
    """The `data` rows; a `data` that is not a list is BadPayload, an empty one EmptyPayload."""
    rows = field_of(VENUE, RATES, payload, "data")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no rows")
    return parse_rows(VENUE, RATES, rows, _premium)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_premium_index(payloads[RATES])
    rows = [
        model.make_rate(
            exchange=VENUE,
            native_symbol=p.symbol,
            listed_base=p.listed_base,
            quote=p.quote,
            settle=p.quote,
            contract_type="linear",
            funding_rate=p.funding_rate,
            interval_hours=p.interval_hours,
            next_funding_time=p.next_funding_time,
            observed_at=observed_at,
            mark_price=p.mark_price,
            index_price=p.index_price,
            rate_cap=p.rate_cap,
        )
        for p in parsed.items
    ]
    return BuildResult(rows, bad_rows=parsed.bad_rows)
