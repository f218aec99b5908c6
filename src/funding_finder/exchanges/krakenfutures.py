"""Kraken Futures perpetuals: every ticker in one `GET /derivatives/api/v3/tickers`, joined to the
instrument list `GET /derivatives/api/v3/instruments`.

API docs: https://docs.kraken.com/api-reference/instrument-details/get-instruments (and the tickers page
beside it), limits https://docs.kraken.com/exchange/guides/futures/ratelimits (envelope
`{"result": "success", "serverTime": …, "tickers" | "instruments": […]}`; `"result": "error"` with an
`error` text inside HTTP 200 is an error, `apiLimitExceeded` a rate limit).

Units (JSON numbers): tickers `fundingRate` is **absolute** — currency per contract per hour, not a
fraction — and is turned into a relative rate (fraction per hour) with the current `markPrice`:
linear `PF_` (1 contract = `contractSize` base units, paid in USD): `fundingRate / markPrice`;
inverse `PI_` (1 contract = 1 USD, paid in the base coin): `fundingRate × markPrice`. A ticker's own
`relativeFundingRate` is used instead where present (absent from the 2026 REST recording). The reading is
an approximation (the history's relative rate was priced 0.5 % away from the ticker's mark) and is clamped
to the instrument's `maxRelativeFundingRate` (the venue's ±cap per hour) when the list gives it.
`fundingRatePrediction` (absolute, the next hour) becomes `predicted_rate` the same way.
`markPrice`, `indexPrice` in USD; `openInterest` in contracts (PF: × contractSize × mark = USD; PI:
× contractSize = USD, None when the list does not give contractSize); `volumeQuote` = 24 h volume in USD.
Interval: fixed 1 h (paid hourly); REST has no time field, so the settlement is the next full UTC hour
after `observed_at`. Which settlement the ticker's current value is charged at is unverified: in the 2026
recording (17:21Z) it equalled the history row stamped 17:00Z, i.e. the rate of the running hour.
Filters: ticker `tag == "perpetual"` (month/quarter dated `FI_`/`FF_` rows are dropped) and `suspended`
not true; instruments `tradeable: false` drops the row. A ticker absent from the list is kept, `unlisted`.
Symbols: base from `pair` (`XBT:USD` → BTC); `PF_` → `BTC/USD:USD` linear (multi-collateral, USD-margined);
`PI_` → `BTC/USD:BTC` inverse. xStocks keep Kraken's asset code with its lower-case `x` suffix
(`pair` `NVDAx:USD`, symbol `PF_NVDAXUSD`): that venue code marks a tokenised share ⇒ `equity`.
Limits: public endpoints cost nothing in Kraken's derivatives budget (500 per 10 s is for private
calls); 1 request per second is kept as the handbook's guard against an undocumented IP throttle.
History (`backfill`): `GET /derivatives/api/v4/historicalfundingrates?symbol=` (the recorded path; the
docs' v3 `/historical-funding-rates` is the same list) answers the contract's whole hourly history in one
call, no paging parameters: rows `timestamp` (ISO), `fundingRate` (absolute, currency per contract per
hour) and `relativeFundingRate` (fraction per hour: the rate stored). The two are tied by the price Kraken
settled at, linear `absolute = relative × price`, inverse `absolute = relative / price`, so that price is
stored as the event's mark price (None when either rate is 0). Charged 1 to the 1 per s guard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder import model
from funding_finder.errors import EmptyPayload
from funding_finder.exchanges.base import (
    BuildResult,
    Endpoint,
    HistorySpec,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    ms_of_iso,
    parse_rows,
    parse_secondary,
    product,
    text,
)
from funding_finder.model import (
    AssetClass,
    ContractType,
    FundingRate,
    SettledFunding,
    number,
    optional_number,
    settled,
)
from funding_finder.ratelimit import Limit

VENUE = "krakenfutures"
RATES, INSTRUMENTS = "tickers", "instruments"
HISTORY = "historicalfundingrates"
INTERVAL_HOURS = 1.0
RATE_LIMIT_ERRORS = frozenset({"apiLimitExceeded"})
FAMILIES: dict[str, ContractType] = {"PF_": "linear", "PI_": "inverse"}
"""Perpetual symbol prefixes; `FI_` (inverse) and `FF_` (linear) are dated futures."""
XSTOCK = re.compile(r"^[A-Z0-9]+x$")
"""Kraken's asset code of a tokenised share: the ticker and a lower-case `x` (`NVDAx`, `AAPLx`)."""


check_envelope = code_envelope(
    "result",
    ("success",),
    message_fields=(),
    rate_limit_codes=RATE_LIMIT_ERRORS,
    require_object=True,
    error_code_fields=("error", "errors"),
)
"""`result != "success"` inside HTTP 200 is an error; `apiLimitExceeded` is the rate limit."""


SPEC = VenueSpec(
    id=VENUE,
    name="Kraken Futures",
    hosts={"api": "https://futures.kraken.com"},
    endpoints=(
        Endpoint(RATES, "/derivatives/api/v3/tickers", Role.RATES),
        Endpoint(INSTRUMENTS, "/derivatives/api/v3/instruments", Role.INSTRUMENTS),
    ),
    limits=(Limit("public-guard", 1, 1.0),),
    docs_url="https://docs.kraken.com/exchange/guides/futures/ratelimits",
    check_envelope=check_envelope,
    workers=1,
    history=HistorySpec(
        Endpoint(HISTORY, "/derivatives/api/v4/historicalfundingrates", Role.RATES),
        page_rows=0,  # no paging: one call holds the whole history
        params=lambda symbol, start_ms, end_ms, rows: {"symbol": symbol},
        parse=lambda payload, symbol: parse_history(payload, symbol),
        covers=lambda row: row.native_symbol.startswith(tuple(FAMILIES)),
        paging="none",
    ),
)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    listed_base: str
    quote: str
    contract_type: ContractType
    absolute_rate: float
    relative_rate: float | None
    absolute_prediction: float | None
    relative_prediction: float | None
    mark_price: float | None
    index_price: float | None
    open_interest_contracts: float | None
    volume_quote: float | None


@dataclass(frozen=True)
class Instrument:
    symbol: str
    tradeable: bool
    contract_size: float | None
    max_relative_rate: float | None


def relative_rate(absolute: float, mark_price: float | None, contract_type: ContractType) -> float:
    """Absolute funding (currency per contract per hour) → fraction per hour, at the mark price."""
    if mark_price is None or mark_price <= 0:
        raise ValueError(f"no mark price to convert an absolute rate: {mark_price!r}")
    return absolute / mark_price if contract_type == "linear" else absolute * mark_price


def _pair(row: Any, symbol: str) -> tuple[str, str]:
    pair = row.get("pair")
    if pair is None:  # `PF_XBTUSD` → XBT, USD
        base, quote = symbol[3:].removesuffix("USD"), "USD"
    else:
        base, quote = text(pair).split(":")
    return text(base), text(quote)


def _ticker(row: Any) -> Ticker | None:
    tag = row.get("tag")
    if (tag is not None and tag != "perpetual") or row.get("suspended") is True:
        return None
    symbol = text(row["symbol"])
    contract_type = FAMILIES.get(symbol[:3])
    if contract_type is None:
        if symbol[:3] in ("FI_", "FF_"):
            return None  # dated future without a tag
        raise ValueError(f"unknown contract family {symbol!r}")
    base, quote = _pair(row, symbol)
    return Ticker(
        symbol,
        base,
        quote,
        contract_type,
        number(row["fundingRate"]),
        optional_number(row.get("relativeFundingRate")),
        optional_number(row.get("fundingRatePrediction")),
        optional_number(row.get("relativeFundingRatePrediction")),
        optional_number(row.get("markPrice")),
        optional_number(row.get("indexPrice")),
        optional_number(row.get("openInterest")),
        optional_number(row.get("volumeQuote")),
    )


def parse_tickers(payload: Any) -> Parsed[Ticker]:
    """Tradable perpetual tickers; dated futures and suspended contracts are dropped on purpose."""
    rows = field_of(VENUE, RATES, payload, "tickers")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no tickers")
    return parse_rows(VENUE, RATES, rows, _ticker)


def parse_instruments(payload: Any) -> Parsed[Instrument]:
    """Every listed instrument with what a ticker lacks: tradeable, contract size, funding cap."""

    def one(row: Any) -> Instrument:
        tradeable = row.get("tradeable")
        cap = optional_number(row.get("maxRelativeFundingRate"))
        size = optional_number(row.get("contractSize"))
        return Instrument(
            text(row["symbol"]),
            tradeable is not False,
            size if size and size > 0 else None,
            cap if cap and cap > 0 else None,
        )

    rows = field_of(VENUE, INSTRUMENTS, payload, "instruments")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, INSTRUMENTS, "no instruments")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    tickers = parse_tickers(payloads[RATES])
    unusable: set[str] = set()
    parsed = parse_secondary(payloads.get(INSTRUMENTS), parse_instruments, INSTRUMENTS, unusable)
    instruments = None if parsed is None else {i.symbol: i for i in parsed.items}
    settlement = model.next_full_hour(observed_at)

    def join(ticker: Ticker) -> FundingRate | None:
        instrument = None if instruments is None else instruments.get(ticker.symbol)
        if instrument is not None and not instrument.tradeable:
            return None
        cap = instrument.max_relative_rate if instrument else None
        rate = _relative(ticker.relative_rate, ticker.absolute_rate, ticker, cap)
        if rate is None:
            raise ValueError(f"{ticker.symbol}: no funding rate")
        predicted = _relative(ticker.relative_prediction, ticker.absolute_prediction, ticker, cap)
        base = model.BASE_ALIASES.get(ticker.listed_base, ticker.listed_base)
        inverse = ticker.contract_type == "inverse"
        return model.make_rate(
            exchange=VENUE,
            native_symbol=ticker.symbol,
            listed_base=ticker.listed_base,
            quote=ticker.quote,
            settle=base if inverse else ticker.quote,
            contract_type=ticker.contract_type,
            funding_rate=rate,
            interval_hours=INTERVAL_HOURS,
            next_funding_time=settlement,
            observed_at=observed_at,
            predicted_rate=predicted,
            mark_price=ticker.mark_price,
            index_price=ticker.index_price,
            open_interest_usd=model.usd_value(_open_interest(ticker, instrument), ticker.quote),
            volume_24h_usd=model.usd_value(ticker.volume_quote, ticker.quote),
            asset_class=_asset_class(ticker.listed_base),
            listed=None if instruments is None else instrument is not None,
        )

    joined = parse_rows(VENUE, RATES, tickers.items, join)
    bad_rows = tickers.bad_rows + (parsed.bad_rows if parsed else 0) + joined.bad_rows
    return BuildResult(joined.items, bad_rows, unusable)


def _relative(
    relative: float | None, absolute: float | None, ticker: Ticker, cap: float | None
) -> float | None:
    """The relative rate (given, else converted), clamped to ±cap; None when there is nothing to read."""
    if relative is None:
        if absolute is None:
            return None
        relative = relative_rate(absolute, ticker.mark_price, ticker.contract_type)
    return relative if cap is None else max(-cap, min(cap, relative))


def _open_interest(ticker: Ticker, instrument: Instrument | None) -> float | None:
    """Open interest in the quote currency: contracts × size (× mark for linear contracts)."""
    size = instrument.contract_size if instrument else None
    if ticker.contract_type == "inverse":
        return product(ticker.open_interest_contracts, size)
    return product(ticker.open_interest_contracts, size, ticker.mark_price)


def _asset_class(listed_base: str) -> AssetClass:
    return "equity" if XSTOCK.match(listed_base) else "crypto"


def parse_history(payload: Any, symbol: str) -> Parsed[SettledFunding]:
    """`historicalfundingrates` rows of one contract: `timestamp` (ISO), `relativeFundingRate` (fraction
    per hour, the rate), and the settlement price implied with the absolute `fundingRate`."""
    contract_type = next((kind for prefix, kind in FAMILIES.items() if symbol.startswith(prefix)), "linear")

    def one(row: Any) -> SettledFunding:
        relative, absolute = number(row["relativeFundingRate"]), number(row["fundingRate"])
        return settled(
            VENUE,
            symbol,
            ms_of_iso(row["timestamp"]),
            relative,
            settlement_price(absolute, relative, contract_type),
        )

    return parse_rows(VENUE, HISTORY, field_of(VENUE, HISTORY, payload, "rates"), one)


def settlement_price(absolute: float, relative: float, contract_type: ContractType) -> float | None:
    """The price that ties an absolute rate (currency per contract per hour) to its relative one (fraction
    per hour): linear `absolute / relative`, inverse `relative / absolute`; None when either is 0."""
    if absolute == 0 or relative == 0:
        return None
    return absolute / relative if contract_type == "linear" else relative / absolute
