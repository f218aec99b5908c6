"""MEXC perpetual contracts (contract API v1): the bulk funding-rate list plus the all-symbols ticker.

API docs: https://mexcdevelop.github.io/apidocs/contract_v1_en/#get-contract-funding-rate

Envelope `{"success": true, "code": 0, "data": [...]}`; values are JSON numbers (`7.3e-05`).
- `GET /api/v1/contract/funding_rate` with no symbol (RATES): the undocumented bulk form, one object per
  contract shaped like the documented per-symbol one: `symbol`, `fundingRate` (fraction per interval,
  current period), `collectCycle` (interval in **hours** — the interval source), `nextSettleTime` (its
  settlement, epoch **ms**), `fairPrice` (mark), `idxPrice` (index), `maxFundingRate` / `minFundingRate`
  (the contract's bounds, fractions per interval: `rate_cap` is the larger |bound|; 0 / 0, as on the
  24 h US30_USDT, is read as no bound set, and an unreadable bound as none, never costing the row).
- `GET /api/v1/contract/ticker` with no symbol (EXTRA): `amount24` = 24 h turnover in the quote currency,
  joined by symbol; `fairPrice` / `indexPrice` fill prices the rate row lacks (the 2021 docs form has none).
  Its `holdVol` is open interest in *contracts*; the contract size is only in `/contract/detail`, which
  is not called, so open_interest_usd stays None rather than a guessed size.

Fallback when the bulk call fails (it is undocumented): the documented path. The ticker (asked every
cycle anyway) gives every contract's current `fundingRate` and prices, and `GET
/api/v1/contract/funding_rate/{symbol}` gives one contract's interval and settlement time. ~800 contracts
at 20 calls per 2 s would take ≈ 80 s, over the venue's deadline, so the per-symbol calls rotate:
`PER_SYMBOL_CALLS` contracts a cycle (sorted by symbol, the next slice each cycle), a full pass every
three cycles. Contracts outside this cycle's slice keep the ticker's rate with interval and settlement
unknown (flagged `interval_unknown`), never a guessed interval; the collector marks the venue `partial`.

Symbols: `BTC_USDT` → `BTC/USDT:USDT` linear (settles in the quote); `BTC_USD` → `BTC/USD:BTC` inverse.
No filters: the funding list carries no status (that is `detail.state`), so every row is kept, listed=True.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from funding_finder import model
from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    field_of,
    parse_rows,
    rate_cap,
)
from funding_finder.model import number, optional_number
from funding_finder.ratelimit import Limit

log = logging.getLogger(__name__)

VENUE = "mexc"
RATES = "funding_rate"
TICKER = "ticker"
PER_SYMBOL = "funding_rate_symbol"
PER_SYMBOL_CALLS = 300
"""Per-symbol calls a cycle in the fallback: at the gate's 18 calls per 2.05 s they take ≈ 34 s, inside
the 60 s venue deadline."""
RATE_LIMIT_CODE = 510
"""`{"code":510,"msg":"Requests are too frequent"}`: MEXC's rate-limit body, without a `success` key."""


def check_envelope(venue: str, endpoint: str, payload: Any) -> None:
    """`success: false` ⇒ ExchangeError (e.g. 1001 "Contract does not exist"); code 510 ⇒ RateLimited."""
    if not isinstance(payload, dict):
        return
    code = payload.get("code")
    message = payload.get("message") or payload.get("msg") or ""
    if code == RATE_LIMIT_CODE:
        raise RateLimited(venue, endpoint, f"code {code}: {message}")
    if payload.get("success") is False or ("success" not in payload and code not in (None, 0)):
        raise ExchangeError(venue, endpoint, f"code {code}: {message}")


SPEC = VenueSpec(
    id=VENUE,
    name="MEXC",
    hosts={"api": "https://contract.mexc.com"},
    endpoints=(
        Endpoint(RATES, "/api/v1/contract/funding_rate", Role.RATES),
        Endpoint(TICKER, "/api/v1/contract/ticker", Role.EXTRA),
    ),
    # Market endpoints: 20 requests per 2 s (scope not stated by the docs: counted per IP).
    limits=(Limit("market", 20, 2.0),),
    docs_url="https://mexcdevelop.github.io/apidocs/contract_v1_en/",
    check_envelope=check_envelope,
    workers=8,  # the fallback's per-symbol round: 9 calls per s × ~150 ms round trip in flight, doubled
    per_instrument=lambda payloads, cycle: plan_fallback(payloads, cycle),
)


class Funding(NamedTuple):
    symbol: str
    listed_base: str
    quote: str
    settle: str
    contract_type: model.ContractType
    funding_rate: float
    interval_hours: float | None
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None
    rate_cap: float | None


class Ticker(NamedTuple):
    symbol: str
    amount_24h_quote: float | None
    mark_price: float | None
    index_price: float | None
    funding_rate: float | None
    """The current period's rate (fraction per interval), used only by the fallback."""


def split_symbol(symbol: Any) -> tuple[str, str, str, model.ContractType]:
    """`BTC_USDT` → (BTC, USDT, USDT, linear); `BTC_USD` → (BTC, USD, BTC, inverse)."""
    base, quote = symbol.rsplit("_", 1)
    if not base or not quote:
        raise ValueError(f"bad symbol {symbol!r}")
    if quote == "USD":
        return base, quote, base, "inverse"
    return base, quote, quote, "linear"


def _funding(row: Any) -> Funding:
    symbol = row["symbol"]
    listed_base, quote, settle, contract_type = split_symbol(symbol)
    cycle = optional_number(row.get("collectCycle"))
    if cycle is not None and cycle <= 0:
        raise ValueError(f"bad collectCycle {cycle!r}")
    return Funding(
        symbol=symbol,
        listed_base=listed_base,
        quote=quote,
        settle=settle,
        contract_type=contract_type,
        funding_rate=number(row["fundingRate"]),
        interval_hours=cycle,
        next_funding_time=model.optional_from_ms(row.get("nextSettleTime")),
        mark_price=optional_number(row.get("fairPrice")),
        index_price=optional_number(row.get("idxPrice")),
        rate_cap=rate_cap(row.get("maxFundingRate"), row.get("minFundingRate")),
    )


def _ticker(row: Any) -> Ticker:
    symbol = row["symbol"]
    if not isinstance(symbol, str):
        raise TypeError(f"bad symbol {symbol!r}")
    return Ticker(
        symbol=symbol,
        amount_24h_quote=optional_number(row.get("amount24")),
        mark_price=optional_number(row.get("fairPrice")),
        index_price=optional_number(row.get("indexPrice")),
        funding_rate=optional_number(row.get("fundingRate")),
    )


def parse_funding_rate(payload: Any) -> Parsed[Funding]:
    data = field_of(VENUE, RATES, payload, "data")
    parsed = parse_rows(VENUE, RATES, data, _funding)
    if not data:
        raise EmptyPayload(VENUE, RATES, "no funding rows")
    return parsed


def parse_ticker(payload: Any) -> Parsed[Ticker]:
    return parse_rows(VENUE, TICKER, field_of(VENUE, TICKER, payload, "data"), _ticker)


def _tickers(payload: Any | None) -> Parsed[Ticker]:
    """The ticker is enrichment: a failed call or a payload of the wrong shape leaves its fields null."""
    if payload is None:
        return Parsed([])
    try:
        return parse_ticker(payload)
    except BadPayload as exc:
        log.warning("%s; volumes left null this cycle", exc)
        return Parsed([])


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def plan_fallback(payloads: Mapping[str, Any | None], cycle: int) -> list[Endpoint]:
    """No calls while the bulk list answers; else this cycle's slice of the ticker's symbols."""
    if payloads.get(RATES) is not None:
        return []
    symbols = sorted({ticker.symbol for ticker in _tickers(payloads.get(TICKER)).items})
    if not symbols:
        return []
    slices = -(-len(symbols) // PER_SYMBOL_CALLS)
    start = (cycle % slices) * PER_SYMBOL_CALLS
    return [
        Endpoint(PER_SYMBOL, f"/api/v1/contract/funding_rate/{symbol}", Role.RATES, instrument=symbol)
        for symbol in symbols[start : start + PER_SYMBOL_CALLS]
    ]


def parse_symbol_answers(answers: Mapping[str, Any]) -> Parsed[Funding]:
    """The per-symbol answers of the fallback (`{symbol: payload}`), each `data` one funding object."""
    return parse_rows(
        VENUE, PER_SYMBOL, [field_of(VENUE, PER_SYMBOL, a, "data") for a in answers.values()], _funding
    )


def _fallback_fundings(payloads: Mapping[str, Any | None], tickers: Parsed[Ticker]) -> Parsed[Funding]:
    """Every ticker contract with a rate: its per-symbol answer where this cycle asked, else the
    ticker's rate with interval and settlement unknown."""
    answered = parse_symbol_answers(payloads.get(PER_SYMBOL) or {})
    by_symbol = {funding.symbol: funding for funding in answered.items}

    def one(ticker: Ticker) -> Funding | None:
        if ticker.symbol in by_symbol:
            return by_symbol[ticker.symbol]
        if ticker.funding_rate is None:
            return None
        listed_base, quote, settle, contract_type = split_symbol(ticker.symbol)
        return Funding(ticker.symbol, listed_base, quote, settle, contract_type, ticker.funding_rate,
                       None, None, ticker.mark_price, ticker.index_price, None)  # fmt: skip

    fundings = parse_rows(VENUE, TICKER, tickers.items, one)
    if not fundings.items:
        raise EmptyPayload(VENUE, TICKER, "neither the bulk list nor the ticker gave a rate")
    return Parsed(fundings.items, answered.bad_rows + fundings.bad_rows)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    tickers = _tickers(payloads.get(TICKER))
    if payloads.get(RATES) is not None:
        fundings = parse_funding_rate(payloads[RATES])
    else:
        fundings = _fallback_fundings(payloads, tickers)
    by_symbol = {ticker.symbol: ticker for ticker in tickers.items}
    rows = []
    for funding in fundings.items:
        ticker = by_symbol.get(funding.symbol)
        volume = ticker.amount_24h_quote if ticker else None
        rows.append(
            model.make_rate(
                exchange=VENUE,
                native_symbol=funding.symbol,
                listed_base=funding.listed_base,
                quote=funding.quote,
                settle=funding.settle,
                contract_type=funding.contract_type,
                funding_rate=funding.funding_rate,
                interval_hours=funding.interval_hours,
                next_funding_time=funding.next_funding_time,
                observed_at=observed_at,
                mark_price=_first(funding.mark_price, ticker.mark_price if ticker else None),
                index_price=_first(funding.index_price, ticker.index_price if ticker else None),
                # amount24 of an inverse (coin-settled) contract is not documented as USD: leave it null.
                volume_24h_usd=model.usd_value(volume, funding.quote)
                if funding.contract_type == "linear"
                else None,
                rate_cap=funding.rate_cap,
            )
        )
    return BuildResult(rows, bad_rows=fundings.bad_rows + tickers.bad_rows)
