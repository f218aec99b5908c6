"""Bitfinex derivatives: every perpetual's funding in one `GET /v2/status/deriv?keys=ALL`.

API docs: https://docs.bitfinex.com/reference/rest-public-derivatives-status (fields, "Rate Limit: 90
reqs/min"); funding schedule: https://www.bitfinex.com/legal/derivative_funding (Funding Times every 8 h).

The answer is a bare JSON list of positional arrays (numbers, no envelope), one per derivative key:
- `[0]` KEY `tBTCF0:USTF0`: `t` + listed base + `F0` (perpetual) + `:` + margin currency (`USTF0` = USD₮,
  `EUTF0` = EUR₮), so `BTC/USDT:USDT`, linear, settled in the margin currency;
- `[4]` SPOT_PRICE, the index (mid of the underlying spot book; `[3]` is the derivative's own book, not
  used), `[15]` MARK_PRICE, both in the quote currency;
- `[8]` NEXT_FUNDING_EVT_MTS: the next settlement, epoch **ms**;
- `[12]` CURRENT_FUNDING and `[9]` NEXT_FUNDING_ACCRUED: fractions per **8 h** funding period;
- `[18]` OPEN_INTEREST in contracts of one base unit: × mark = open interest in the quote currency.
No 24 h volume in this answer: None. `[1]` MTS is the venue's stamp, never used as our clock.

Which of `[12]` and `[9]` is charged at `[8]` is unverified (venue handbook). Reading chosen: `[12]` is
`funding_rate` (the docs call it "Funding applied in the current 8h period", the period ending at `[8]`;
ccxt reads it the same way) and `[9]` is `predicted_rate` ("accrued funding for next 8h period"). Both raw
values are kept, so the other reading can be recovered from stored rows; the test pins this choice.

Interval: fixed 8 h (funding times 00:00, 08:00, 16:00 UTC), from the venue's schedule, not the payload.
Filters: only perpetual keys (`F0` base suffix), and no paper-trading keys (`TEST…`, Bitfinex's test
instruments); both are Bitfinex's own key markers. Errors: `["error", code, "message"]` (11010 =
rate limit, seen with HTTP 429) and the v1 form `{"error": "ERR_RATE_LIMIT"}`.
"""

from __future__ import annotations

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
    parse_rows,
    product,
    text,
)
from funding_finder.model import make_rate, number, optional_from_ms, optional_number, usd_value
from funding_finder.ratelimit import Limit

VENUE = "bitfinex"
RATES = "status-deriv"
INTERVAL_HOURS = 8
"""Bitfinex perpetuals settle every 8 h (documented schedule, not in the payload)."""
MARGIN_CURRENCIES = {"USTF0": "USDT", "EUTF0": "EURT"}
"""Margin (collateral) key of a derivative → its currency: the quote and the settlement currency."""
RATE_LIMIT_CODES = frozenset({"11010"})
RATE_LIMIT_MESSAGES = ("ratelimit", "ERR_RATE_LIMIT")
KEY, SPOT_PRICE, NEXT_FUNDING_MS, NEXT_FUNDING_ACCRUED, CURRENT_FUNDING = 0, 4, 8, 9, 12
MARK_PRICE, OPEN_INTEREST = 15, 18
"""Positions in a REST `status/deriv` row (the `/hist` and WebSocket rows have no key: one less)."""


def check_envelope(venue: str, endpoint: str, payload: Any) -> None:
    """`["error", code, "message"]` (v2) or `{"error": "…"}` (v1) is an error; rate-limit ones RateLimited."""
    if isinstance(payload, list) and payload[:1] == ["error"]:
        code = str(payload[1]) if len(payload) > 1 else ""
        message = str(payload[2]) if len(payload) > 2 else ""
    elif isinstance(payload, dict) and "error" in payload:
        code, message = "", str(payload["error"])
    else:
        return
    detail = f"error {code}: {message}" if code else f"error: {message}"
    if code in RATE_LIMIT_CODES or any(word in message for word in RATE_LIMIT_MESSAGES):
        raise RateLimited(venue, endpoint, detail)
    raise ExchangeError(venue, endpoint, detail)


SPEC = VenueSpec(
    id=VENUE,
    name="Bitfinex derivatives",
    hosts={"api": "https://api-pub.bitfinex.com"},
    endpoints=(Endpoint(RATES, "/v2/status/deriv", Role.RATES, params={"keys": "ALL"}),),
    # "Rate Limit: 90 reqs/min" on the status endpoints, counted per IP and per endpoint; over it the
    # IP is blocked on that endpoint for 10-60 s.
    limits=(Limit("status", 90, 60.0, scope="endpoint"),),
    docs_url="https://docs.bitfinex.com/reference/rest-public-derivatives-status",
    check_envelope=check_envelope,
    workers=1,
)


@dataclass(frozen=True)
class Status:
    key: str
    listed_base: str
    currency: str
    """Margin currency: quote and settlement."""
    funding_rate: float
    predicted_rate: float | None
    next_funding_time: datetime | None
    mark_price: float | None
    index_price: float | None
    open_interest_contracts: float | None


def split_key(key: str) -> tuple[str, str] | None:
    """`tBTCF0:USTF0` → (`BTC`, `USDT`); None for a key that is not a perpetual or is a test key."""
    if key.removeprefix("t").startswith("TEST"):
        return None  # paper trading (`tTESTBTCF0:TESTUSDTF0`)
    if not key.startswith("t") or ":" not in key:
        raise ValueError(f"not a derivative key: {key!r}")
    base_part, margin = key[1:].split(":", 1)
    if not base_part.endswith("F0"):
        return None
    base = base_part.removesuffix("F0")
    if not base or margin not in MARGIN_CURRENCIES:
        raise ValueError(f"unknown base or margin in {key!r}")
    return base, MARGIN_CURRENCIES[margin]


def _status(row: Any) -> Status | None:
    if not isinstance(row, list):
        raise TypeError(f"not a status array: {type(row).__name__}")
    key = text(row[KEY])
    parts = split_key(key)
    if parts is None:
        return None
    return Status(
        key=key,
        listed_base=parts[0],
        currency=parts[1],
        funding_rate=number(row[CURRENT_FUNDING]),
        predicted_rate=optional_number(row[NEXT_FUNDING_ACCRUED]),
        next_funding_time=optional_from_ms(row[NEXT_FUNDING_MS]),
        mark_price=optional_number(row[MARK_PRICE]),
        index_price=optional_number(row[SPOT_PRICE]),
        open_interest_contracts=optional_number(row[OPEN_INTEREST]),
    )


def parse_status(payload: Any) -> Parsed[Status]:
    """The perpetual rows of a `status/deriv` answer; a non-list is BadPayload, `[]` EmptyPayload."""
    if isinstance(payload, list) and payload[:1] == ["error"]:
        raise BadPayload(VENUE, RATES, "an error array, not status rows")
    parsed = parse_rows(VENUE, RATES, payload, _status)
    if not payload:
        raise EmptyPayload(VENUE, RATES, "no derivative keys")
    return parsed


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    parsed = parse_status(payloads[RATES])
    rows = []
    for status in parsed.items:
        open_interest = product(status.open_interest_contracts, status.mark_price)
        rows.append(
            make_rate(
                exchange=VENUE,
                native_symbol=status.key,
                listed_base=status.listed_base,
                quote=status.currency,
                settle=status.currency,
                contract_type="linear",
                funding_rate=status.funding_rate,
                interval_hours=INTERVAL_HOURS,
                next_funding_time=status.next_funding_time,
                observed_at=observed_at,
                predicted_rate=status.predicted_rate,
                mark_price=status.mark_price,
                index_price=status.index_price,
                open_interest_usd=usd_value(open_interest, status.currency),
            )
        )
    return BuildResult(rows, bad_rows=parsed.bad_rows)
