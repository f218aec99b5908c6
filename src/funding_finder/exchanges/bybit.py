"""Bybit v5 linear perpetuals (USDT and USDC): all tickers in one call, joined to the instrument list.

Docs: https://bybit-exchange.github.io/docs/v5/market/tickers and
https://bybit-exchange.github.io/docs/v5/market/instrument (envelope `{"retCode":0,"result":{"list":[…]}}`).

Units (all strings): `fundingRate` is a fraction per interval of the current period, settling at
`nextFundingTime` (ms); `markPrice` / `indexPrice` in the quote currency; `openInterestValue` and
`turnover24h` in the quote currency (counted as USD for USDT/USDC quotes).
Interval: tickers `fundingIntervalHour` (hours, same row as the rate), else instruments `fundingInterval`
(**minutes**) ÷ 60, else unknown.
Filters: instruments `contractType` LinearPerpetual / InversePerpetual with `status == "Trading"`; dated
futures (`BTCUSDT-25SEP26`, LinearFutures) are dropped, also without a list when the ticker's
`deliveryTime` is set. A ticker missing from the instrument list is kept, `unlisted`.
Symbols from instruments (`baseCoin/quoteCoin:settleCoin`), else `…USDT` ⇒ USDT, `…PERP` ⇒ USDC.
`symbolType` stock ⇒ equity, commodity ⇒ commodity.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder.errors import BadPayload, EmptyPayload, ExchangeError, RateLimited
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    Parsed,
    Role,
    VenueSpec,
    field_of,
    parse_rows,
    parse_secondary,
    text,
)
from funding_finder.model import AssetClass, ContractType, FundingRate, from_ms, make_rate, number, usd_value
from funding_finder.model import optional_number as optional
from funding_finder.ratelimit import Limit

VENUE = "bybit"
RATES, INSTRUMENTS = "tickers", "instruments-info"
RATE_LIMIT_CODES = frozenset({"10006", "10429"})
"""retCode values of Bybit's rate limits (compared as text: the code is a number on the wire)."""
PERPETUALS: dict[str, ContractType] = {"LinearPerpetual": "linear", "InversePerpetual": "inverse"}
ASSET_CLASSES: dict[str, AssetClass] = {"stock": "equity", "commodity": "commodity"}
"""`symbolType` values that are not crypto ("" and "innovation" are crypto)."""

log = logging.getLogger(__name__)


def check_envelope(venue: str, endpoint: str, payload: Any) -> None:
    """`retCode != 0` inside HTTP 200 is an error; 10006 / 10429 are Bybit's rate-limit codes."""
    if not isinstance(payload, dict) or "retCode" not in payload:
        raise BadPayload(venue, endpoint, "no Bybit envelope (retCode)")
    code = str(payload["retCode"])
    if code == "0":
        return
    detail = f"retCode {code}: {payload.get('retMsg', '')}"
    if code in RATE_LIMIT_CODES:
        raise RateLimited(venue, endpoint, detail)
    raise ExchangeError(venue, endpoint, detail)


SPEC = VenueSpec(
    id=VENUE,
    name="Bybit",
    hosts={"api": "https://api.bybit.com"},
    endpoints=(
        Endpoint(RATES, "/v5/market/tickers", Role.RATES, params={"category": "linear"}),
        Endpoint(
            INSTRUMENTS,
            "/v5/market/instruments-info",
            Role.INSTRUMENTS,
            params={"category": "linear", "limit": "1000"},
        ),
    ),
    limits=(Limit("ip", 600, 5.0),),
    docs_url="https://bybit-exchange.github.io/docs/v5/market/tickers",
    check_envelope=check_envelope,
    workers=2,
)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    rate: float
    next_funding_time: datetime | None
    interval_hours: float | None
    mark_price: float | None
    index_price: float | None
    open_interest_value: float | None
    turnover_24h: float | None


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    settle: str
    contract_type: ContractType | None
    """None for what is not a tradable perpetual (dated futures, pre-launch, settling)."""
    interval_hours: float | None
    asset_class: AssetClass


def parse_tickers(payload: Any) -> Parsed[Ticker]:
    """Ticker rows; a row with a delivery time (a dated future) is dropped on purpose."""
    rows = field_of(VENUE, RATES, payload, "result", "list")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Ticker | None:
        if optional(row.get("deliveryTime")):
            return None
        next_ms = optional(row.get("nextFundingTime"))
        return Ticker(
            text(row["symbol"]),
            number(row["fundingRate"]),
            from_ms(next_ms) if next_ms else None,
            _positive(optional(row.get("fundingIntervalHour"))),
            optional(row.get("markPrice")),
            optional(row.get("indexPrice")),
            optional(row.get("openInterestValue")),
            optional(row.get("turnover24h")),
        )

    return parse_rows(VENUE, RATES, rows, one)


def parse_instruments_info(payload: Any) -> Parsed[Instrument]:
    """Every listed contract; `contract_type` None marks the ones that are not trading perpetuals."""
    result = field_of(VENUE, INSTRUMENTS, payload, "result")
    if isinstance(result, dict) and result.get("nextPageCursor"):
        log.warning("bybit instruments-info: more pages than the one read; missing rows will be unlisted")

    def one(row: Any) -> Instrument:
        contract_type = PERPETUALS.get(row["contractType"]) if row["status"] == "Trading" else None
        minutes = _positive(optional(row.get("fundingInterval")))
        return Instrument(
            text(row["symbol"]),
            text(row["baseCoin"]),
            text(row["quoteCoin"]),
            text(row["settleCoin"]),
            contract_type,
            None if minutes is None else minutes / 60,
            ASSET_CLASSES.get(row.get("symbolType") or "", "crypto"),
        )

    rows = field_of(VENUE, INSTRUMENTS, payload, "result", "list")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, INSTRUMENTS, "no instruments")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    tickers = parse_tickers(payloads[RATES])
    bad_rows = tickers.bad_rows
    unusable: set[str] = set()
    parsed_instruments = parse_secondary(
        payloads.get(INSTRUMENTS), parse_instruments_info, INSTRUMENTS, unusable
    )
    instruments = None
    if parsed_instruments is not None:
        instruments = {i.symbol: i for i in parsed_instruments.items}
        bad_rows += parsed_instruments.bad_rows

    def join(ticker: Ticker) -> FundingRate | None:
        instrument = None if instruments is None else instruments.get(ticker.symbol)
        if instrument is None:
            instrument = _instrument_from_symbol(ticker.symbol)
        if instrument.contract_type is None:
            return None  # dated future, or not trading
        return make_rate(
            exchange=VENUE,
            native_symbol=ticker.symbol,
            listed_base=instrument.base,
            quote=instrument.quote,
            settle=instrument.settle,
            contract_type=instrument.contract_type,
            funding_rate=ticker.rate,
            interval_hours=ticker.interval_hours or instrument.interval_hours,
            next_funding_time=ticker.next_funding_time,
            observed_at=observed_at,
            mark_price=ticker.mark_price,
            index_price=ticker.index_price,
            open_interest_usd=usd_value(ticker.open_interest_value, instrument.quote),
            volume_24h_usd=usd_value(ticker.turnover_24h, instrument.quote),
            asset_class=instrument.asset_class,
            listed=None if instruments is None else ticker.symbol in instruments,
        )

    joined = parse_rows(VENUE, RATES, tickers.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def _instrument_from_symbol(symbol: str) -> Instrument:
    """`BTCUSDT` → BTC/USDT:USDT, `BTCPERP` → BTC/USDC:USDC (Bybit's USDC perpetual names)."""
    for suffix, quote in (("USDT", "USDT"), ("PERP", "USDC")):
        if symbol.endswith(suffix) and len(symbol) > len(suffix):
            return Instrument(symbol, symbol[: -len(suffix)], quote, quote, "linear", None, "crypto")
    raise ValueError(f"no known quote in {symbol!r}")


def _positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        return None
    return value
