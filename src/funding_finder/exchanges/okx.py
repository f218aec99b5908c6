"""OKX v5 perpetual swaps: every swap's current funding in one `instId=ANY` call, joined to the swap list.

Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate and
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments (envelope `{"code":"0","data":[…]}`).

Endpoints: `GET /api/v5/public/funding-rate?instId=ANY` (RATES; "all swap symbols", linear and inverse)
and `GET /api/v5/public/instruments?instType=SWAP` (INSTRUMENTS; the same swaps, both families).
Units (all strings): `fundingRate` is a fraction per interval — the *current* period's rate, settling at
`fundingTime` (ms, the upcoming settlement); `nextFundingTime` (ms) is the settlement after it and
`nextFundingRate` the next period's rate (`""` under `method=current_period` ⇒ None);
`maxFundingRate` / `minFundingRate` are the swap's bounds on the rate (fractions per interval, in every
recorded schema): `rate_cap` is the larger |bound| (an absent, unreadable or 0 one is skipped, never
costing the row). No mark, index, open interest or volume here: left None.
Interval: `nextFundingTime − fundingTime` in hours (OKX documents reading it from that difference);
unknown (None, flag `interval_unknown`) when `nextFundingTime` is absent or not after `fundingTime` —
a time comparison never drops a row.
Filters: `instType == "SWAP"` (`ANY` also returns X-Perps `FUTURES` rows, dropped); instruments
`state == "live"` (other states dropped). A swap missing from the instrument list is kept, `unlisted`.
Symbols from instruments (`instFamily` or `uly` BASE-QUOTE, `settleCcy`, `ctType`), else from `instId`:
`BTC-USDT-SWAP` → `BTC/USDT:USDT` linear, inverse `BTC-USD-SWAP` → `BTC/USD:BTC` (settled in the coin).
Envelope: `base.code_envelope` on `code` ("0" passes, 50011 — also sent as a number — is the rate limit).
History (`backfill`): `GET /api/v5/public/funding-rate-history?instId=&before=&after=&limit=`
(https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate-history): rows `instId`,
`fundingTime` (ms string, the settlement), `realizedRate` (the rate actually paid: stored) beside
`fundingRate` (the predicted one, not stored), `method`, `formulaType`; newest first, at most 400 rows;
`after` asks for rows older than a `fundingTime` and `before` for newer ones (both exclusive), so it pages
backward by `after`. 10 per 2 s per IP + instId, its own bucket per instrument. No mark price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding_finder.errors import EmptyPayload
from funding_finder.exchanges.base import (
    INVERSE_QUOTE,
    BuildResult,
    Endpoint,
    HistorySpec,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    hours_between,
    parse_rows,
    parse_secondary,
    rate_cap,
    settle_and_type,
    text,
)
from funding_finder.model import (
    ContractType,
    FundingRate,
    SettledFunding,
    from_ms,
    make_rate,
    number,
    optional_number,
    settled,
)
from funding_finder.ratelimit import Limit

VENUE = "okx"
RATES, INSTRUMENTS = "funding-rate", "instruments"
HISTORY = "funding-rate-history"
RATE_LIMIT_CODES = frozenset({"50011"})
LINEAR_QUOTES = ("USDT", "USDC")

check_envelope = code_envelope("code", ok=("0",), rate_limit_codes=RATE_LIMIT_CODES, require_object=True)
"""`code != "0"` inside HTTP 200 is an error; 50011 (also sent as a number) is OKX's rate limit. Every OKX
answer is an object, so anything else is BadPayload here already."""


SPEC = VenueSpec(
    id=VENUE,
    name="OKX",
    hosts={"api": "https://www.okx.com"},
    endpoints=(
        Endpoint(
            RATES, "/api/v5/public/funding-rate", Role.RATES, params={"instId": "ANY"}, instrument="ANY"
        ),
        Endpoint(INSTRUMENTS, "/api/v5/public/instruments", Role.INSTRUMENTS, params={"instType": "SWAP"}),
    ),
    limits=(
        Limit(
            "funding-rate",
            10,
            2.0,
            scope="instrument",
            costs={RATES: 1, HISTORY: 1},
            default_cost=0,
        ),
        Limit("instruments", 20, 2.0, costs={"instruments": 1}, default_cost=0),
    ),
    docs_url="https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate",
    check_envelope=check_envelope,
    workers=2,
    history=HistorySpec(
        Endpoint(HISTORY, "/api/v5/public/funding-rate-history", Role.RATES),
        page_rows=400,  # the documented maximum `limit`
        params=lambda inst_id, start_ms, end_ms, rows: {
            "instId": inst_id,
            "after": end_ms + 1,
            "before": start_ms - 1,
            "limit": rows,
        },
        parse=lambda payload, inst_id: parse_history(payload, inst_id),
        paging="backward",
        workers=8,  # the limit is per instrument: contracts do not wait on each other
    ),
)


@dataclass(frozen=True)
class Rate:
    inst_id: str
    rate: float
    funding_time: datetime
    interval_hours: float | None
    predicted_rate: float | None
    rate_cap: float | None


@dataclass(frozen=True)
class Instrument:
    inst_id: str
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    live: bool


def parse_funding_rate(payload: Any) -> Parsed[Rate]:
    """The swap rows of a funding-rate answer; X-Perps (`instType` FUTURES) are dropped on purpose."""
    data = field_of(VENUE, RATES, payload, "data")
    if data == []:
        raise EmptyPayload(VENUE, RATES, "no rows")

    def one(row: Any) -> Rate | None:
        if row["instType"] != "SWAP":
            return None
        funding_ms = number(row["fundingTime"])
        return Rate(
            text(row["instId"]),
            number(row["fundingRate"]),
            from_ms(funding_ms),
            hours_between(funding_ms, optional_number(row.get("nextFundingTime"))),
            optional_number(row.get("nextFundingRate")),
            rate_cap(row.get("maxFundingRate"), row.get("minFundingRate")),
        )

    return parse_rows(VENUE, RATES, data, one)


def parse_instruments(payload: Any) -> Parsed[Instrument]:
    """Every listed swap with its symbol parts; `live` says whether it trades now."""

    def one(row: Any) -> Instrument:
        inst_id = text(row["instId"])
        family = row.get("instFamily") or row.get("uly") or inst_id.removesuffix("-SWAP")
        base, quote = text(family).split("-")[:2]
        contract_type = row["ctType"]
        if contract_type not in ("linear", "inverse"):
            raise ValueError(f"ctType {contract_type!r}")
        return Instrument(
            inst_id, text(base), text(quote), text(row["settleCcy"]), contract_type, row["state"] == "live"
        )

    rows = field_of(VENUE, INSTRUMENTS, payload, "data")
    if rows == []:  # never a real list: it would unlist every contract
        raise EmptyPayload(VENUE, INSTRUMENTS, "no instruments")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    rates = parse_funding_rate(payloads[RATES])
    bad_rows = rates.bad_rows
    unusable: set[str] = set()
    parsed_instruments = parse_secondary(payloads.get(INSTRUMENTS), parse_instruments, INSTRUMENTS, unusable)
    instruments = None
    if parsed_instruments is not None:
        instruments = {i.inst_id: i for i in parsed_instruments.items}
        bad_rows += parsed_instruments.bad_rows

    def join(rate: Rate) -> FundingRate | None:
        instrument = None if instruments is None else instruments.get(rate.inst_id)
        if instrument is not None and not instrument.live:
            return None  # suspended, preopen, expired: not tradable now
        if instrument is None:
            instrument = _instrument_from_id(rate.inst_id)
        return make_rate(
            exchange=VENUE,
            native_symbol=rate.inst_id,
            listed_base=instrument.base,
            quote=instrument.quote,
            settle=instrument.settle,
            contract_type=instrument.contract_type,
            funding_rate=rate.rate,
            interval_hours=rate.interval_hours,
            next_funding_time=rate.funding_time,
            observed_at=observed_at,
            predicted_rate=rate.predicted_rate,
            listed=None if instruments is None else rate.inst_id in instruments,
            rate_cap=rate.rate_cap,
        )

    joined = parse_rows(VENUE, RATES, rates.items, join)
    return BuildResult(joined.items, bad_rows + joined.bad_rows, unusable)


def _instrument_from_id(inst_id: str) -> Instrument:
    """`BTC-USDT-SWAP` → linear settled in USDT; `BTC-USD-SWAP` → inverse settled in BTC."""
    base, quote, kind = inst_id.split("-")
    if kind != "SWAP" or not base:
        raise ValueError(f"not a swap id: {inst_id!r}")
    if quote not in (*LINEAR_QUOTES, INVERSE_QUOTE):
        raise ValueError(f"unknown quote in {inst_id!r}")
    return Instrument(inst_id, base, quote, *settle_and_type(base, quote), True)


def parse_history(payload: Any, inst_id: str) -> Parsed[SettledFunding]:
    """`funding-rate-history` rows of `inst_id`: `fundingTime` (ms string), `realizedRate` (string
    fraction per interval, the rate paid then); rows of another instrument are dropped."""

    def one(row: Any) -> SettledFunding | None:
        if text(row["instId"]) != inst_id:
            return None
        return settled(VENUE, inst_id, row["fundingTime"], row["realizedRate"])

    return parse_rows(VENUE, HISTORY, field_of(VENUE, HISTORY, payload, "data"), one)
