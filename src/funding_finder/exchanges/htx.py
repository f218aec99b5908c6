"""HTX (Huobi) USDT-margined swaps: the batch funding rate of every swap, joined to the contract list.

API docs: https://www.htx.com/en-us/opend/newApiPages/?id=8cb802c2-77b5-11ed-9966-0242ac110003
(contract info) and the "[General] Query a Batch of Funding Rate" page of the same USDT-M reference.
Envelope `{"status":"ok","data":[…],"ts":ms}`; an error is `"status":"error"` with `err-code` / `err-msg`.

Calls: `GET /linear-swap-api/v1/swap_batch_funding_rate` (no params: every swap) and
`GET /linear-swap-api/v1/swap_contract_info?business_type=swap` (the documented default; the recorded
answers were fetched without params). Fields used (strings unless noted):
- batch: `contract_code` (`BTC-USDT`), `funding_rate` (fraction per interval of the current period,
  `"0E-18"` is 0), `funding_time` (ms, the settlement of the current period), `fee_asset` (settlement
  currency), `estimated_rate` / `next_funding_time` (the period after: null in v1, so they stay None);
- contract_info: `symbol` (base), `trade_partition` (quote), `settlement_period` (interval in **hours**;
  absent in the 2022 schema ⇒ interval unknown), `contract_status` (int; 1 = Listing), `business_type` /
  `contract_type` (`swap`), `tradfi_labels` (`Stocks` ⇒ equity, `Metals` / `Commodities` ⇒ commodity).
There is no mark, index, open interest or volume in these calls: left None.
Filters: contracts with `contract_status` other than 1 (0 delisting, 3 suspension, 5–8 settling or
delivering…) or a non-swap business type are dropped; a batch row missing from the list is kept,
`unlisted`, its symbol read from `BASE-QUOTE`. The frozen rows of suspended contracts (past
`funding_time`) are dropped by their status, never by their time.
Limit: both calls are non-market public interfaces: 240 requests / 3 s per IP, shared.
Unverified: the HTTP status of an over-limit answer (err-code 1032 is read in HTTP 200; a 429 is
RateLimited anyway) and the spelling of the error keys (the handbook writes `err-code` / `err-msg`; HTX
futures bodies are also quoted with `err_code` / `err_msg`): both spellings are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    parse_secondary,
    text,
)
from funding_finder.model import AssetClass, FundingRate, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "htx"
RATES, INSTRUMENTS = "swap_batch_funding_rate", "swap_contract_info"
LISTING = 1
"""`contract_status` of a tradable contract."""
RATE_LIMIT_CODES = frozenset({"1032", "rate-too-many-requests", "base-request-exceed-frequency-limit"})
TRADFI_CLASSES: dict[str, AssetClass] = {
    "Stocks": "equity",
    "Metals": "commodity",
    "Commodities": "commodity",
}
"""`tradfi_labels` values → asset class (JP225 is labelled `Stocks` by HTX, so it is equity here)."""


check_envelope = code_envelope(
    "status",
    ("ok",),
    message_fields=("err-msg", "err_msg"),
    rate_limit_codes=RATE_LIMIT_CODES,
    require_object=True,
    error_code_fields=("err-code", "err_code"),
)
"""`status` other than "ok" is an error; err-code 1032 (and the spot-style codes) is the rate limit."""


SPEC = VenueSpec(
    id=VENUE,
    name="HTX USDT-M swaps",
    hosts={"api": "https://api.hbdm.com"},
    endpoints=(
        Endpoint(RATES, "/linear-swap-api/v1/swap_batch_funding_rate", Role.RATES),
        Endpoint(
            INSTRUMENTS,
            "/linear-swap-api/v1/swap_contract_info",
            Role.INSTRUMENTS,
            params={"business_type": "swap"},
        ),
    ),
    # "For public interface used to get information of index, price limit, settlement, delivery, open
    # positions and so on": 240 requests per 3 s per IP, shared by those (non-market) interfaces.
    limits=(Limit("public", 240, 3.0, costs={RATES: 1, INSTRUMENTS: 1}),),
    docs_url="https://www.htx.com/en-us/opend/newApiPages/?id=8cb802c2-77b5-11ed-9966-0242ac110003",
    check_envelope=check_envelope,
    workers=2,
)


@dataclass(frozen=True)
class Rate:
    contract_code: str
    rate: float
    funding_time: datetime | None
    predicted_rate: float | None
    settle: str | None


@dataclass(frozen=True)
class Contract:
    contract_code: str
    base: str
    quote: str
    tradable: bool
    interval_hours: float | None
    asset_class: AssetClass


def parse_batch_funding_rate(payload: Any) -> Parsed[Rate]:
    """Every swap's current rate; a non-list `data` is BadPayload, an empty one EmptyPayload."""
    rows = field_of(VENUE, RATES, payload, "data")
    if rows == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Rate:
        settle = row.get("fee_asset")
        return Rate(
            text(row["contract_code"]),
            number(row["funding_rate"]),
            model.optional_from_ms(row.get("funding_time")),
            optional_number(row.get("estimated_rate")),
            settle if isinstance(settle, str) and settle else None,
        )

    return parse_rows(VENUE, RATES, rows, one)


def _asset_class(labels: Any) -> AssetClass:
    for label in labels if isinstance(labels, list) else ():
        if label in TRADFI_CLASSES:
            return TRADFI_CLASSES[label]
    return "crypto"


def parse_contract_info(payload: Any) -> Parsed[Contract]:
    """Every listed contract; `tradable` is False for any status but Listing and for dated futures."""

    def one(row: Any) -> Contract:
        status = row.get("contract_status")
        kinds = {row.get("business_type") or "swap", row.get("contract_type") or "swap"}
        return Contract(
            text(row["contract_code"]),
            text(row["symbol"]),
            text(row["trade_partition"]),
            (status is None or status == LISTING) and kinds == {"swap"},
            interval_hours(row.get("settlement_period"), S_PER_HOUR),
            _asset_class(row.get("tradfi_labels")),
        )

    rows = field_of(VENUE, INSTRUMENTS, payload, "data")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, INSTRUMENTS, "no contracts")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def _contract_from_code(code: str) -> Contract:
    """`BTC-USDT` → BTC / USDT when the contract list lacks it (or could not be had)."""
    base, quote = code.split("-")
    if not base or not quote:
        raise ValueError(f"not a swap code: {code!r}")
    return Contract(code, base, quote, True, None, "crypto")


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_batch_funding_rate(payloads[RATES])
    unusable: set[str] = set()
    listing = parse_secondary(payloads.get(INSTRUMENTS), parse_contract_info, INSTRUMENTS, unusable)
    contracts = None if listing is None else {c.contract_code: c for c in listing.items}
    bad_rows = rates.bad_rows + (listing.bad_rows if listing else 0)

    def join(rate: Rate) -> FundingRate | None:
        contract = None if contracts is None else contracts.get(rate.contract_code)
        if contract is not None and not contract.tradable:
            return None  # suspended, delisting, settling or a dated future
        listed = None if contracts is None else contract is not None
        contract = contract or _contract_from_code(rate.contract_code)
        return model.make_rate(
            exchange=VENUE,
            native_symbol=rate.contract_code,
            listed_base=contract.base,
            quote=contract.quote,
            settle=rate.settle or contract.quote,
            contract_type="linear",
            funding_rate=rate.rate,
            interval_hours=contract.interval_hours,
            next_funding_time=rate.funding_time,
            observed_at=observed_at,
            predicted_rate=rate.predicted_rate,
            asset_class=contract.asset_class,
            listed=listed,
        )

    joined = parse_rows(VENUE, RATES, rates.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)
