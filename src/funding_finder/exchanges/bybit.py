"""Bybit v5 perpetuals, two families: linear (USDT and USDC) and inverse (coin-settled), tickers + list each.

Docs: https://bybit-exchange.github.io/docs/v5/market/tickers and
https://bybit-exchange.github.io/docs/v5/market/instrument (envelope `{"retCode":0,"result":{"list":[…]}}`).

Endpoints: `GET /v5/market/tickers?category=linear` and `?category=inverse` (RATES, one per family; no
symbol ⇒ all), `GET /v5/market/instruments-info?category=linear&limit=1000` and `?category=inverse`
(INSTRUMENTS). A family's tickers that failed (None), came empty or wrong-shaped cost only its rows.
Units (all strings): `fundingRate` is a fraction per interval of the current period, settling at
`nextFundingTime` (ms); `markPrice` / `indexPrice` in the quote currency. Linear: `openInterestValue` and
`turnover24h` in the quote currency (counted as USD for USDT/USDC quotes). Inverse: `openInterest` is in
USD contracts (the handbook), so it is the open interest in USD; `openInterestValue` and `turnover24h` are
coin amounts and the unit of `volume24h` is not stated, so volume_24h_usd stays None.
Interval: tickers `fundingIntervalHour` (hours, same row as the rate), else instruments `fundingInterval`
(**minutes**) ÷ 60, else unknown.
Cap: instruments `upperFundingRate` / `lowerFundingRate` (string fractions per interval): `rate_cap` is
the larger |bound|; "0" / "0" (as sent on dated futures) is no bound, and an absent or unreadable bound
is skipped, never costing the row. Without the list no cap is known. The tickers' own `fundingCap` is not
read: the handbook gives it no meaning or unit.
Filters: instruments `contractType` LinearPerpetual / InversePerpetual with `status == "Trading"`; dated
futures (`BTCUSDT-25SEP26`, LinearFutures, InverseFutures) are dropped, also without a list when the
ticker's `deliveryTime` is set. A ticker missing from its family's list is kept, `unlisted`.
Symbols from instruments (`baseCoin/quoteCoin:settleCoin`), else linear `…USDT` ⇒ USDT, `…PERP` ⇒ USDC,
inverse `BTCUSD` ⇒ `BTC/USD:BTC`. `symbolType` stock ⇒ equity, commodity ⇒ commodity.
Envelope: `base.code_envelope` on `retCode` (0 passes; 10006 and 10429 are Bybit's rate limits).
History (`backfill`): `GET /v5/market/funding/history?category=&symbol=&startTime=&endTime=&limit=`
(https://bybit-exchange.github.io/docs/v5/market/history-fund-rate): rows `symbol`, `fundingRate`
(string fraction per interval, the rate settled then), `fundingRateTimestamp` (ms string), newest first,
at most 200 a call, so it pages backward by `endTime`; no mark price. The category is read from the
symbol (inverse perpetuals end in `USD`). Charged 1 to the same 600 / 5 s per IP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder.errors import BadPayload, EmptyPayload
from funding_finder.exchanges.base import (
    S_PER_HOUR,
    BuildResult,
    Endpoint,
    HistorySpec,
    Parsed,
    Role,
    VenueSpec,
    build_families,
    code_envelope,
    field_of,
    interval_hours,
    parse_rows,
    parse_secondary,
    rate_cap,
    settle_and_type,
    split_by_quote,
    text,
)
from funding_finder.model import (
    AssetClass,
    ContractType,
    FundingRate,
    SettledFunding,
    from_ms,
    make_rate,
    number,
    settled,
    usd_value,
)
from funding_finder.model import optional_number as optional
from funding_finder.ratelimit import Limit

VENUE = "bybit"
RATES, INSTRUMENTS = "tickers", "instruments-info"
INVERSE_RATES, INVERSE_INSTRUMENTS = "tickers-inverse", "instruments-info-inverse"
HISTORY = "funding-history"
RATE_LIMIT_CODES = frozenset({"10006", "10429"})
"""retCode values of Bybit's rate limits (compared as text: the code is a number on the wire)."""
PERPETUALS: dict[str, ContractType] = {"LinearPerpetual": "linear", "InversePerpetual": "inverse"}
ASSET_CLASSES: dict[str, AssetClass] = {"stock": "equity", "commodity": "commodity"}
"""`symbolType` values that are not crypto ("" and "innovation" are crypto)."""
SYMBOL_QUOTES: dict[ContractType, dict[str, str]] = {
    "linear": {"USDT": "USDT", "PERP": "USDC"},
    "inverse": {"USD": "USD"},
}
"""Symbol suffix → quote per category, to read a ticker the instrument list lacks (`BTCPERP` is USDC)."""

log = logging.getLogger(__name__)

check_envelope = code_envelope(
    "retCode", ok=(0,), message_fields=("retMsg",), rate_limit_codes=RATE_LIMIT_CODES, require_object=True
)
"""`retCode != 0` inside HTTP 200 is an error; 10006 / 10429 are Bybit's rate-limit codes. Every Bybit
answer is an object, so anything else is BadPayload."""


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
        Endpoint(INVERSE_RATES, "/v5/market/tickers", Role.RATES, params={"category": "inverse"}),
        Endpoint(
            INVERSE_INSTRUMENTS,
            "/v5/market/instruments-info",
            Role.INSTRUMENTS,
            params={"category": "inverse"},
        ),
    ),
    limits=(Limit("ip", 600, 5.0),),  # every call to api.bybit.com, 1 each, per IP
    docs_url="https://bybit-exchange.github.io/docs/v5/market/tickers",
    check_envelope=check_envelope,
    workers=2,
    history=HistorySpec(
        Endpoint(HISTORY, "/v5/market/funding/history", Role.RATES),
        page_rows=200,  # the documented maximum `limit`
        params=lambda symbol, start_ms, end_ms, rows: {
            "category": history_category(symbol),
            "symbol": symbol,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": rows,
        },
        parse=lambda payload, symbol: parse_history(payload, symbol),
        paging="backward",
        workers=8,  # 600 per 5 s is 120 calls a second: the round trip, not the limit, would pace fewer
    ),
)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    rate: float
    next_funding_time: datetime | None
    interval_hours: float | None
    mark_price: float | None
    index_price: float | None
    open_interest: float | None
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
    rate_cap: float | None = None
    """The contract's bound on |rate| (the larger of |upperFundingRate|, |lowerFundingRate|)."""


def parse_tickers(payload: Any, endpoint: str = RATES) -> Parsed[Ticker]:
    """Ticker rows; a row with a delivery time (a dated future) is dropped on purpose."""
    rows = field_of(VENUE, endpoint, payload, "result", "list")
    if rows == []:
        raise EmptyPayload(VENUE, endpoint, "no rows")

    def one(row: Any) -> Ticker | None:
        if optional(row.get("deliveryTime")):
            return None
        next_ms = optional(row.get("nextFundingTime"))
        return Ticker(
            text(row["symbol"]),
            number(row["fundingRate"]),
            from_ms(next_ms) if next_ms else None,
            interval_hours(row.get("fundingIntervalHour"), S_PER_HOUR),
            optional(row.get("markPrice")),
            optional(row.get("indexPrice")),
            optional(row.get("openInterest")),
            optional(row.get("openInterestValue")),
            optional(row.get("turnover24h")),
        )

    return parse_rows(VENUE, endpoint, rows, one)


def parse_instruments_info(payload: Any, endpoint: str = INSTRUMENTS) -> Parsed[Instrument]:
    """Every listed contract; `contract_type` None marks the ones that are not trading perpetuals."""
    result = field_of(VENUE, endpoint, payload, "result")
    if isinstance(result, dict) and result.get("nextPageCursor"):
        log.warning("bybit %s: more pages than the one read; missing rows will be unlisted", endpoint)

    def one(row: Any) -> Instrument:
        contract_type = PERPETUALS.get(row["contractType"]) if row["status"] == "Trading" else None
        return Instrument(
            text(row["symbol"]),
            text(row["baseCoin"]),
            text(row["quoteCoin"]),
            text(row["settleCoin"]),
            contract_type,
            interval_hours(row.get("fundingInterval"), 60),  # minutes
            ASSET_CLASSES.get(row.get("symbolType") or "", "crypto"),
            rate_cap(row.get("upperFundingRate"), row.get("lowerFundingRate")),
        )

    rows = field_of(VENUE, endpoint, payload, "result", "list")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, endpoint, "no instruments")
    return parse_rows(VENUE, endpoint, rows, one)


FAMILIES: tuple[tuple[str, str, ContractType], ...] = (
    (RATES, INSTRUMENTS, "linear"),
    (INVERSE_RATES, INVERSE_INSTRUMENTS, "inverse"),
)
"""(tickers endpoint, instrument-list endpoint, family) per category."""


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    """The rows of every category whose tickers answered; a failed (None), wrong-shaped or empty
    category costs only itself (`base.build_families`)."""

    def build_one(family: tuple[str, str, ContractType], rates_payload: Any) -> BuildResult:
        rates, listing, contract_type = family
        return _build_family(rates_payload, payloads.get(listing), rates, listing, contract_type, observed_at)

    return build_families(
        payloads,
        {family[0]: family for family in FAMILIES},
        build_one,
        BadPayload(VENUE, RATES, "no tickers payload of any category"),
    )


def _build_family(
    rates_payload: Any,
    list_payload: Any | None,
    rates: str,
    listing: str,
    family: ContractType,
    observed_at: datetime,
) -> BuildResult:
    result = BuildResult([])
    tickers = parse_tickers(rates_payload, rates)
    result.bad_rows += tickers.bad_rows
    parsed = parse_secondary(
        list_payload, lambda p: parse_instruments_info(p, listing), listing, result.unusable
    )
    instruments = None
    if parsed is not None:
        instruments = {i.symbol: i for i in parsed.items}
        result.bad_rows += parsed.bad_rows

    def join(ticker: Ticker) -> FundingRate | None:
        instrument = None if instruments is None else instruments.get(ticker.symbol)
        if instrument is None:
            instrument = _instrument_from_symbol(ticker.symbol, family)
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
            open_interest_usd=_open_interest_usd(ticker, instrument),
            volume_24h_usd=usd_value(ticker.turnover_24h, instrument.quote)
            if instrument.contract_type == "linear"
            else None,
            asset_class=instrument.asset_class,
            listed=None if instruments is None else ticker.symbol in instruments,
            rate_cap=instrument.rate_cap,
        )

    joined = parse_rows(VENUE, rates, tickers.items, join)
    result.rows += joined.items
    result.bad_rows += joined.bad_rows
    return result


def _open_interest_usd(ticker: Ticker, instrument: Instrument) -> float | None:
    """Linear: `openInterestValue` (quote currency). Inverse: `openInterest`, counted in USD contracts."""
    if instrument.contract_type == "inverse":
        return usd_value(ticker.open_interest, instrument.quote)
    return usd_value(ticker.open_interest_value, instrument.quote)


def _instrument_from_symbol(symbol: str, family: ContractType) -> Instrument:
    """Linear `BTCUSDT` → BTC/USDT:USDT, `BTCPERP` → BTC/USDC:USDC; inverse `BTCUSD` → BTC/USD:BTC."""
    base, quote = split_by_quote(symbol, SYMBOL_QUOTES[family])
    settle, contract_type = settle_and_type(base, quote)
    return Instrument(symbol, base, quote, settle, contract_type, None, "crypto")


def history_category(symbol: str) -> str:
    """The history call's `category` of a perpetual: `inverse` for `BTCUSD` (coin-settled perpetuals are
    named BASE + USD), else `linear` (`…USDT`, USDC `…PERP`)."""
    return "inverse" if symbol.endswith("USD") else "linear"


def parse_history(payload: Any, native_symbol: str) -> Parsed[SettledFunding]:
    """`/v5/market/funding/history` rows of `native_symbol`: `fundingRateTimestamp` (ms string),
    `fundingRate` (string fraction per interval, the rate settled then); rows of another symbol dropped."""

    def one(row: Any) -> SettledFunding | None:
        if text(row["symbol"]) != native_symbol:
            return None
        return settled(VENUE, native_symbol, row["fundingRateTimestamp"], row["fundingRate"])

    return parse_rows(VENUE, HISTORY, field_of(VENUE, HISTORY, payload, "result", "list"), one)
