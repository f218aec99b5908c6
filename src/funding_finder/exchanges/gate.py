"""Gate perpetual futures (API v4), two families: USDT-settled (linear) and BTC-settled (inverse).

API docs: https://www.gate.com/docs/developers/apiv4/en/#query-all-futures-contracts

Endpoints (RATES, one per settle currency): `GET /api/v4/futures/usdt/contracts` and
`GET /api/v4/futures/btc/contracts`. A failed (None), empty or wrong-shaped list costs only its rows.
Each is a plain JSON array of contract objects (no envelope). Fields used:
- `name` `BASE_QUOTE`; the settle currency is the path's: `/usdt` lists `type: "direct"` (linear)
  contracts, `BTC_USDT` → `BTC/USDT:USDT`; `/btc` lists coin-settled inverse ones, `BTC_USD` → `BTC/USD:BTC`;
- `funding_rate` (string): fraction per interval of the current period;
- `funding_interval`: interval in **seconds** (14400, 28800) — the interval source, same row;
- `funding_next_apply`: settlement time of the current period, epoch **seconds**;
- `mark_price`, `index_price` (strings, quote currency);
- `funding_rate_limit` (string, 2026 schema; "Upper and lower limits of funding rate" in Gate's SDK model
  docs, gate/gateapi-python `docs/Contract.md`): one magnitude bounding the rate both ways, a fraction
  per interval like `funding_rate` (0.02, 0.0075, 0.003 recorded) ⇒ `rate_cap`; absent (2023 schema),
  unreadable or 0 ⇒ no cap, never costing the row. `funding_cap_ratio` (0.75 … 4, "Deprecated" there) is
  a factor, not a rate, and is not read;
- linear: `position_size` (contracts) × `quanto_multiplier` (base units per contract) × mark = open interest
  in USDT. The size of an inverse contract is not in the handbook, so inverse open interest stays None.
The contract list carries no 24 h volume (that is on `/futures/{settle}/tickers`), so volume is None.

Filters (by the venue's own fields only): drop `in_delisting: true`, `is_pre_market: true` and a `status`
other than `trading`; a row without `status` (2023 schema) is kept. `contract_type: "stocks"` ⇒ equity.
Limits: public endpoints 200 requests / 10 s per endpoint per IP; each settle path counts as its own.
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
    Parsed,
    Role,
    VenueSpec,
    build_families,
    interval_hours,
    parse_rows,
    product,
    rate_cap,
)
from funding_finder.model import AssetClass, ContractType, number, optional_number
from funding_finder.ratelimit import Limit

VENUE = "gate"
RATES, INVERSE_RATES = "contracts", "contracts-btc"
SETTLE = "USDT"
ASSET_CLASSES: dict[str, AssetClass] = {"stocks": "equity"}
"""`contract_type` values that are not crypto ("" is crypto; "stocks" are tokenised shares like AAPLX)."""

SPEC = VenueSpec(
    id=VENUE,
    name="Gate",
    hosts={"api": "https://api.gateio.ws"},
    endpoints=(
        Endpoint(RATES, "/api/v4/futures/usdt/contracts", Role.RATES),
        Endpoint(INVERSE_RATES, "/api/v4/futures/btc/contracts", Role.RATES),
    ),
    # Public endpoints: 200 requests per 10 s per endpoint per IP ("Frequency limit rule").
    # Gate's X-Gate-RateLimit-Requests-Remain reports units *left*, not used, so no usage_headers.
    limits=(Limit("public", 200, 10.0, scope="endpoint"),),
    docs_url="https://www.gate.com/docs/developers/apiv4/en/#query-all-futures-contracts",
    workers=2,  # the two settle lists in one round trip
)


class Family(NamedTuple):
    endpoint: str
    settle: str
    contract_type: ContractType


FAMILIES = (Family(RATES, SETTLE, "linear"), Family(INVERSE_RATES, "BTC", "inverse"))
"""One contract list per settle currency; the path says the settle currency and the contract type."""


class Contract(NamedTuple):
    name: str
    listed_base: str
    quote: str
    funding_rate: float
    interval_hours: float | None
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None
    open_interest_quote: float | None
    asset_class: AssetClass
    rate_cap: float | None


def split_name(name: Any) -> tuple[str, str]:
    """`BTC_USDT` → (`BTC`, `USDT`); `AAPLX_USDT` → (`AAPLX`, `USDT`)."""
    base, quote = name.rsplit("_", 1)
    if not base or not quote:
        raise ValueError(f"bad contract name {name!r}")
    return base, quote


def _contract(row: Any, family: Family = FAMILIES[0]) -> Contract | None:
    if row.get("in_delisting") is True or row.get("is_pre_market") is True:
        return None
    status = row.get("status")  # absent in the 2023 schema: unknown, so kept
    if status is not None and status != "trading":
        return None
    listed_base, quote = split_name(row["name"])
    mark = optional_number(row.get("mark_price"))
    return Contract(
        name=row["name"],
        listed_base=listed_base,
        quote=quote,
        funding_rate=number(row["funding_rate"]),
        interval_hours=interval_hours(row.get("funding_interval"), 1, strict=True),  # seconds
        next_funding_time=model.optional_from_s(row.get("funding_next_apply")),
        mark_price=mark,
        index_price=optional_number(row.get("index_price")),
        open_interest_quote=None
        if family.contract_type == "inverse"
        else product(
            optional_number(row.get("position_size")), optional_number(row.get("quanto_multiplier")), mark
        ),
        asset_class=ASSET_CLASSES.get(row.get("contract_type") or "", "crypto"),
        rate_cap=rate_cap(row.get("funding_rate_limit")),  # one magnitude bounding both ways
    )


def parse_contracts(payload: Any, family: Family = FAMILIES[0]) -> Parsed[Contract]:
    """The contract array → tradable contracts; a non-list is BadPayload, an empty list EmptyPayload."""
    parsed = parse_rows(VENUE, family.endpoint, payload, lambda row: _contract(row, family))
    if not payload:
        raise EmptyPayload(VENUE, family.endpoint, "no contracts")
    return parsed


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    """The rows of every settle currency whose list answered; a failed (None), wrong-shaped or empty
    list costs only its own rows (`base.build_families`)."""

    def build_one(family: Family, payload: Any) -> BuildResult:
        parsed = parse_contracts(payload, family)
        return BuildResult(
            [_row(contract, family, observed_at) for contract in parsed.items], parsed.bad_rows
        )

    return build_families(
        payloads,
        {family.endpoint: family for family in FAMILIES},
        build_one,
        BadPayload(VENUE, RATES, "no contract list of any settle currency"),
    )


def _row(contract: Contract, family: Family, observed_at: datetime) -> model.FundingRate:
    return model.make_rate(
        exchange=VENUE,
        native_symbol=contract.name,
        listed_base=contract.listed_base,
        quote=contract.quote,
        settle=family.settle,
        contract_type=family.contract_type,
        funding_rate=contract.funding_rate,
        interval_hours=contract.interval_hours,
        next_funding_time=contract.next_funding_time,
        observed_at=observed_at,
        mark_price=contract.mark_price,
        index_price=contract.index_price,
        open_interest_usd=model.usd_value(contract.open_interest_quote, contract.quote),
        volume_24h_usd=None,
        asset_class=contract.asset_class,
        rate_cap=contract.rate_cap,
    )
