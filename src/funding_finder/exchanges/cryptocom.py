"""Crypto.com Exchange perpetual swaps: the one venue without a bulk funding endpoint.

API docs: https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html (public/get-valuations,
public/get-instruments, "Rate limits").

Cycle: `GET /exchange/v1/public/get-instruments` lists the instruments; every `PERPETUAL_SWAP` that is
not `tradable: false` then gets one `GET /exchange/v1/public/get-valuations?instrument_name=X&
valuation_type=estimated_funding_rate&count=1` (a per-instrument fan-out, ≈ 200 calls on the live venue,
paced by the gate at 100 calls per second per method). If the instrument list fails, the collector's
stored copy plans the calls.

Units: `result.data[].v` is a string fraction **per hour** (the current period's estimate), `t` its
epoch-ms time. Interval: 1 h — ccxt's reading, unverified in the venue's instrument data but borne out by
the recorded `funding_hist` rows, stamped 17:00, 18:00 and 19:00 UTC; so the settlement is the top of
the hour after `t` (the venue's own time of the estimate, so a replayed answer is flagged stale).
Symbols: `BTCUSD-PERP` is USD-quoted and USD-settled, linear: `BTC/USD:USD` from `base_ccy`/`quote_ccy`.
No prices or open interest in these answers (they would cost a `get-tickers` call): null.
History (`backfill`): the same method with `valuation_type=funding_hist` (the settled hourly rates):
rows `v` (string fraction per hour) and `t` (epoch ms, the settlement), newest first as recorded, so it
pages backward by `end_ts`; `count`, `start_ts` and `end_ts` are the method's parameters, their limits
unverified (the notes), so pages stay at the documented default of 25 rows. Charged to the same
per-method bucket as the cycle's estimates (the endpoint shares their name). No mark price.
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
    HistorySpec,
    Parsed,
    Role,
    VenueSpec,
    code_envelope,
    field_of,
    parse_rows,
    text,
)
from funding_finder.ratelimit import Limit

VENUE = "cryptocom"
INSTRUMENTS, RATES = "get-instruments", "get-valuations"
VALUATIONS_PATH = "/exchange/v1/public/get-valuations"
INTERVAL_HOURS = 1.0
RATE_LIMIT_CODE = 42901
"""`TOO_MANY_REQUESTS`, sent with HTTP 429."""


class Perpetual(NamedTuple):
    symbol: str
    base: str
    quote: str


class Estimate(NamedTuple):
    funding_rate: float
    """Fraction per hour."""
    at: datetime


def parse_instruments(payload: Any) -> Parsed[Perpetual]:
    """The tradable perpetual swaps of `get-instruments` (futures and spot pairs are dropped)."""

    def one(row: Any) -> Perpetual | None:
        if row["inst_type"] != "PERPETUAL_SWAP" or row.get("tradable") is False:
            return None
        return Perpetual(text(row["symbol"]), text(row["base_ccy"]), text(row["quote_ccy"]))

    rows = field_of(VENUE, INSTRUMENTS, payload, "result", "data")
    if rows == []:
        raise EmptyPayload(VENUE, INSTRUMENTS, "no instruments")
    return parse_rows(VENUE, INSTRUMENTS, rows, one)


def plan_calls(payloads: Mapping[str, Any | None], cycle: int = 0) -> list[Endpoint]:
    """One `get-valuations` call per listed perpetual, every cycle (≈ 200 calls fit the limit in about
    2 s, so no rotation); none without an instrument list."""
    if payloads.get(INSTRUMENTS) is None:
        return []
    return [
        Endpoint(
            RATES,
            VALUATIONS_PATH,
            params={"instrument_name": perp.symbol, "valuation_type": "estimated_funding_rate", "count": "1"},
            instrument=perp.symbol,
        )
        for perp in parse_instruments(payloads[INSTRUMENTS]).items
    ]


def parse_estimate(instrument: str, payload: Any) -> Estimate:
    """The newest estimate of one instrument's answer; BadPayload when it has none."""
    rows = field_of(VENUE, RATES, payload, "result", "data")
    if not isinstance(rows, list) or not rows:
        raise BadPayload(VENUE, RATES, f"{instrument}: no estimate in the answer")
    newest = max(rows, key=lambda row: model.number(row["t"]))
    return Estimate(model.number(newest["v"]), model.from_ms(newest["t"]))


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime) -> BuildResult:
    perpetuals = {perp.symbol: perp for perp in parse_instruments(payloads[INSTRUMENTS]).items}
    answers: Mapping[str, Any] = payloads.get(RATES) or {}

    def one(item: tuple[str, Any]) -> model.FundingRate:
        symbol, payload = item
        perp, estimate = perpetuals[symbol], parse_estimate(symbol, payload)
        return model.make_rate(
            exchange=VENUE,
            native_symbol=symbol,
            listed_base=perp.base,
            quote=perp.quote,
            settle=perp.quote,
            contract_type="linear",
            funding_rate=estimate.funding_rate,
            interval_hours=INTERVAL_HOURS,
            next_funding_time=model.next_full_hour(estimate.at),
            observed_at=observed_at,
        )

    parsed = parse_rows(VENUE, RATES, sorted(answers.items()), one)
    return BuildResult(parsed.items, parsed.bad_rows)


SPEC = VenueSpec(
    id=VENUE,
    name="Crypto.com Exchange",
    hosts={"api": "https://api.crypto.com"},
    endpoints=(Endpoint(INSTRUMENTS, "/exchange/v1/public/get-instruments", Role.INSTRUMENTS),),
    # Public market data: 100 requests per second per IP, counted per method.
    limits=(Limit("per-method", 100, 1.0, scope="endpoint"),),
    docs_url="https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html",
    check_envelope=code_envelope("code", (0,), rate_limit_codes=(RATE_LIMIT_CODE,)),
    workers=16,  # 90 calls/s usable × ~150 ms round trip ≈ 14 calls in flight
    per_instrument=plan_calls,
    history=HistorySpec(
        Endpoint(RATES, VALUATIONS_PATH, Role.RATES, params={"valuation_type": "funding_hist"}),
        page_rows=25,
        params=lambda symbol, start_ms, end_ms, rows: {
            "instrument_name": symbol,
            "count": rows,
            "start_ts": start_ms,
            "end_ts": end_ms,
        },
        parse=lambda payload, symbol: parse_history(payload, symbol),
        paging="backward",
    ),
)


def parse_history(payload: Any, instrument: str) -> Parsed[model.SettledFunding]:
    """`funding_hist` rows of one instrument: `t` (epoch ms, the settlement), `v` (string fraction per
    hour, settled). An answer naming another instrument is BadPayload."""
    named = payload.get("result", {}).get("instrument_name") if isinstance(payload, dict) else None
    if named not in (None, instrument):
        raise BadPayload(VENUE, RATES, f"history of {named!r} in the answer for {instrument!r}")

    def one(row: Any) -> model.SettledFunding:
        return model.settled(VENUE, instrument, row["t"], row["v"])

    return parse_rows(VENUE, RATES, field_of(VENUE, RATES, payload, "result", "data"), one)
