"""BitMart futures v2: every contract's current funding from one bulk `GET /contract/public/details`.

API docs: https://developer-pro.bitmart.com/en/futuresv2/ (Get Contract Details, Rate Limit, Error Code).

Envelope `{"code":1000,"message":"Ok","data":{"symbols":[…]},"trace":…}`. Fields used, per contract:
- `symbol`, `base_currency`, `quote_currency`: `BTCUSDT` → `BTC/USDT:USDT` linear (settles in the
  quote); a `USD` quote is coin-margined (`BTCUSD`) → `BTC/USD:BTC` inverse;
- `expected_funding_rate` (string): fraction per interval of the *current* period, settling at
  `funding_time` (epoch **ms**). Not `funding_rate` (its meaning is unverified: it matched the last
  settled `rate_value` for BTC and ETH but not for AAVE, ADA, BCH), and never `rate_value` (the last
  settled rate, on `/contract/public/funding-rate`, which is not called);
- `funding_interval_hours` (int **hours**, newer schema): the interval source; absent (2024 schema) or
  not positive ⇒ unknown;
- `index_price` (quote currency); no mark price anywhere in the bulk call ⇒ None;
- linear: `open_interest_value` and `turnover_24h` are the venue's own quote-currency values (USD for
  USDT/USDC). Inverse: both are in the base coin (BTCUSD: 7537 BTC of OI), so open interest and volume
  are `open_interest` / `volume_24h` (contracts) × `contract_size` (USD per contract, 100 on BTCUSD);
- `delist_time`: epoch **seconds** (every other time here is ms); 0 means none scheduled. Kept on the
  parsed contract and logged, never used to drop a row: `ARBUSDT` traded with a past delist time;
- `tradfi_info`: null on crypto contracts; its `market_group` (US_MARKET, HK_STOCK ⇒ equity, INDEX_* ⇒
  index, METAL_* / COMMODITY_* ⇒ commodity) is read per a third-party 2026 probe (unverified, every
  recorded row is null); a group with no class here (FOREX, PRE_LIST) stays crypto, the model's default.
Filters, by the venue's fields only: `product_type` other than 1 (dated futures) and `status` other than
`Trading` (`Delisted`) are dropped; a missing field is unknown and kept (2024 schema has no status).
Errors: HTTP 200 with `code != 1000` ⇒ ExchangeError; 30013 ("Request too many requests", also sent with
HTTP 429) ⇒ RateLimited; 30017 (limit-rule ban, HTTP 418) ⇒ Banned. Limit: 12 requests / 2 s per IP for
details (each public market endpoint has its own window of that size).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from funding_finder import model
from funding_finder.errors import Banned, EmptyPayload
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
    settle_and_type,
    text,
)
from funding_finder.model import AssetClass, ContractType, number, optional_number
from funding_finder.ratelimit import Limit

log = logging.getLogger(__name__)

VENUE = "bitmart"
RATES = "details"
OK_CODE = 1000
RATE_LIMIT_CODE = 30013
BAN_CODE = 30017
PERPETUAL = 1
"""`product_type` of perpetual contracts (2 = dated futures)."""
_code_check = code_envelope(
    "code", (OK_CODE,), message_fields=("message",), rate_limit_codes=(RATE_LIMIT_CODE,)
)


def check_envelope(venue: str, endpoint: str, payload: Any) -> None:
    """`code != 1000` ⇒ ExchangeError, 30013 ⇒ RateLimited, 30017 (a temporary ban) ⇒ Banned."""
    if isinstance(payload, dict) and str(payload.get("code")) == str(BAN_CODE):
        raise Banned(venue, endpoint, f"code {BAN_CODE}: {payload.get('message', '')}")
    _code_check(venue, endpoint, payload)


SPEC = VenueSpec(
    id=VENUE,
    name="BitMart Futures",
    hosts={"api": "https://api-cloud-v2.bitmart.com"},
    endpoints=(Endpoint(RATES, "/contract/public/details", Role.RATES),),
    # 12 requests per 2 s per IP, counted per public endpoint.
    limits=(Limit("public", 12, 2.0, scope="endpoint"),),
    docs_url="https://developer-pro.bitmart.com/en/futuresv2/",
    check_envelope=check_envelope,
    workers=1,
)


class Contract(NamedTuple):
    symbol: str
    listed_base: str
    quote: str
    settle: str
    contract_type: ContractType
    funding_rate: float
    interval_hours: float | None
    next_funding_time: datetime | None
    index_price: float | None
    open_interest_quote: float | None
    volume_24h_quote: float | None
    asset_class: AssetClass
    delist_at: datetime | None
    """From `delist_time` (epoch s; 0 ⇒ None). Information only: rows are filtered by `status`."""


def asset_class_of(tradfi_info: Any) -> AssetClass:
    """`tradfi_info.market_group` → asset class; null (crypto contracts) or an unmapped group ⇒ crypto."""
    group = tradfi_info.get("market_group") if isinstance(tradfi_info, dict) else None
    if not isinstance(group, str):
        return "crypto"
    if group in ("US_MARKET", "HK_STOCK"):
        return "equity"
    if group.startswith("INDEX_"):
        return "index"
    if group.startswith(("METAL_", "COMMODITY_")):
        return "commodity"
    return "crypto"


def _delist_at(value: Any) -> datetime | None:
    """`delist_time` in epoch seconds; 0, absent or unreadable ⇒ None (it never decides a row)."""
    try:
        seconds = optional_number(value)
        return model.from_s(seconds) if seconds else None
    except ValueError:
        return None


def _times(contracts: float | None, size: float | None) -> float | None:
    """Contracts × contract size; an overflow is a malformed value (ValueError), never infinity."""
    return None if contracts is None or size is None else number(contracts * size)


def _contract(row: Any) -> Contract | None:
    product_type, status = row.get("product_type"), row.get("status")
    if (product_type is not None and str(product_type) != str(PERPETUAL)) or (
        status is not None and status != "Trading"
    ):
        return None  # dated future, or delisted
    symbol, base, quote = text(row["symbol"]), text(row["base_currency"]), text(row["quote_currency"])
    settle, contract_type = settle_and_type(base, quote)  # a USD quote is coin-margined
    inverse = contract_type == "inverse"
    size = optional_number(row.get("contract_size"))
    next_ms = optional_number(row.get("funding_time"))
    contract = Contract(
        symbol=symbol,
        listed_base=base,
        quote=quote,
        settle=settle,
        contract_type=contract_type,
        funding_rate=number(row["expected_funding_rate"]),
        interval_hours=interval_hours(row.get("funding_interval_hours"), S_PER_HOUR),
        next_funding_time=model.from_ms(next_ms) if next_ms else None,
        index_price=optional_number(row.get("index_price")),
        open_interest_quote=(
            _times(optional_number(row.get("open_interest")), size)
            if inverse
            else optional_number(row.get("open_interest_value"))
        ),
        volume_24h_quote=(
            _times(optional_number(row.get("volume_24h")), size)
            if inverse
            else optional_number(row.get("turnover_24h"))
        ),
        asset_class=asset_class_of(row.get("tradfi_info")),
        delist_at=_delist_at(row.get("delist_time")),
    )
    if contract.delist_at is not None:
        log.info("bitmart %s: trading with a delisting time set (%s)", symbol, contract.delist_at)
    return contract


def parse_details(payload: Any) -> Parsed[Contract]:
    """`data.symbols` → tradable perpetuals; a missing list is BadPayload, an empty one EmptyPayload."""
    rows = field_of(VENUE, RATES, payload, "data", "symbols")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no contracts")
    return parse_rows(VENUE, RATES, rows, _contract)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_details(payloads[RATES])
    rows = [
        model.make_rate(
            exchange=VENUE,
            native_symbol=c.symbol,
            listed_base=c.listed_base,
            quote=c.quote,
            settle=c.settle,
            contract_type=c.contract_type,
            funding_rate=c.funding_rate,
            interval_hours=c.interval_hours,
            next_funding_time=c.next_funding_time,
            observed_at=observed_at,
            index_price=c.index_price,
            open_interest_usd=model.usd_value(c.open_interest_quote, c.quote),
            volume_24h_usd=model.usd_value(c.volume_24h_quote, c.quote),
            asset_class=c.asset_class,
        )
        for c in parsed.items
    ]
    return BuildResult(rows, bad_rows=parsed.bad_rows)
