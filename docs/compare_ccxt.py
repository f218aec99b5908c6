"""Our normalized rows next to ccxt's own parse of the same recorded venue responses, offline.

Run `.venv/bin/python docs/compare_ccxt.py`. Per venue, the recordings the simulator serves for the
venue's calls (what `demo` feeds the adapter) go through our `build_rows`, and their raw rows through
ccxt's `parse_funding_rate`, shaped as ccxt's fetch method hands them over. ccxt loads no markets and
makes no request: it gets one minimal market per contract (the recorded instrument row as `info` where
its parser reads it) and a clock pinned to our observation time. Printed: how many contracts differ in
each field, then up to three contracts; `*` marks a ccxt value that differs from ours.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import ccxt

from funding_finder.exchanges import VENUES
from funding_finder.exchanges.base import Endpoint
from funding_finder.model import FundingRate
from funding_finder.recordings import load_bytes
from funding_finder.simulator.routes import ROUTES, find_route

Payloads = dict[str, Any]
Rows = Callable[[Payloads], dict[str, Any]]
"""One cycle's payloads → native symbol → raw row."""


def keyed(key: str | int, *paths: tuple[str, ...], keep: Callable[[Any], bool] = lambda row: True) -> Rows:
    """The rows of the lists at `payloads[path[0]][path[1]]…`, by their `key` field."""

    def at(node: Any, path: tuple[str, ...]) -> Any:
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        return node or []

    return lambda payloads: {row[key]: row for path in paths for row in at(payloads, path) if keep(row)}


def hyperliquid_rows(payloads: Payloads) -> dict[str, Any]:
    """ccxt merges `universe[i]` and `assetCtxs[i]` into one dict before parsing."""
    meta, ctxs = payloads["metaAndAssetCtxs"]
    return {u["name"]: {**u, **c} for u, c in zip(meta["universe"], ctxs, strict=True)}


def cryptocom_rows(payloads: Payloads) -> dict[str, Any]:
    """ccxt parses `result.data[0]` of each instrument's get-valuations answer."""
    return {s: a["result"]["data"][0] for s, a in (payloads.get("get-valuations") or {}).items()}


@dataclass(frozen=True)
class Case:
    ccxt_id: str
    rows: Rows
    info: Rows | None = None
    """Native symbol → the recorded instrument row ccxt keeps as `market['info']`."""
    label: str = ""
    """The response ccxt reads, where it is not the one our adapter takes the rate from."""


CASES: dict[str, Case] = {
    "binance": Case("binanceusdm", keyed("symbol", ("premiumIndex",))),
    "okx": Case("okx", keyed("instId", ("funding-rate", "data"))),
    "bybit": Case(
        "bybit",
        keyed("symbol", ("tickers", "result", "list"), ("tickers-inverse", "result", "list")),
        keyed("symbol", ("instruments-info", "result", "list")),
    ),
    "bitget": Case("bitget", keyed("symbol", ("current-fund-rate:USDT-FUTURES", "data"))),
    "gate": Case("gate", keyed("name", ("contracts",))),
    "mexc": Case("mexc", keyed("symbol", ("funding_rate", "data"))),
    "kucoin": Case("kucoinfutures", keyed("symbol", ("contracts-active", "data"))),
    "htx": Case("htx", keyed("contract_code", ("swap_batch_funding_rate", "data"))),
    "bingx": Case("bingx", keyed("symbol", ("premiumIndex", "data"))),
    "hyperliquid": Case("hyperliquid", hyperliquid_rows),
    "deribit": Case("deribit", keyed("instrument_name", ("book_summary-BTC", "result"))),
    "krakenfutures": Case("krakenfutures", keyed("symbol", ("tickers", "tickers"))),
    "bitfinex": Case("bitfinex", keyed(0, ("status-deriv",))),
    "phemex": Case(
        "phemex",
        keyed("symbol", ("tickers-linear", "result"), ("tickers-inverse", "result")),
        keyed("symbol", ("products", "data", "products")),
    ),
    "woox": Case("woo", keyed("symbol", ("fundingRate", "data", "rows"))),
    "aster": Case("aster", keyed("symbol", ("premiumIndex",))),
    "backpack": Case("backpack", keyed("symbol", ("markPrices",))),
    "paradex": Case(
        "paradex", keyed("symbol", ("markets-summary", "results")), keyed("symbol", ("markets", "results"))
    ),
    "lighter": Case(
        "lighter",
        keyed("symbol", ("funding-rates", "funding_rates"), keep=lambda r: r["exchange"] == "lighter"),
    ),
    "cryptocom": Case("cryptocom", cryptocom_rows),
}
"""Our venue id → how ccxt sees the same rows. The other venues are explained by `skip_reason`."""
ALSO = {"bitget": Case("bitget", keyed("symbol", ("tickers:USDT-FUTURES", "data")), label="tickers")}
"""A second ccxt reading: Bitget's fetch_funding_rates reads the tickers by default, not current-fund-rate."""
NOTES = {
    "kucoin": "ccxt's parser reads the UTA /api/ua/v2/market/funding-rate row (nextFundingRate, fundingTime, "
    "currentGranularity); a contracts/active row has none of them, and no UTA answer is recorded",
    "htx": "ccxt's htx.fetch_funding_rates raises NotSupported for linear swaps; its parser is run anyway",
    "deribit": "ccxt's parser reads `result` of get_funding_rate_value (funding realised over the last 8 h) "
    "or `interest_8h` of the history; a book-summary row has neither, and neither answer is recorded",
}
"""Why ccxt's parse of a venue's recorded rows says little, where it cannot read them offline."""
CCXT_IDS = {"coinbaseintl": "coinbaseinternational"}


def recorded(venue: str, endpoint: Endpoint) -> tuple[Any, str | None]:
    """The decoded recording the simulator serves for this call and its file name; (None, None): none."""
    params = dict(endpoint.params) if endpoint.method == "GET" else dict(endpoint.json_body or {})
    key = find_route(venue, endpoint.method, endpoint.path, params)
    return (None, None) if key is None else (json.loads(load_bytes(venue, ROUTES[key])), ROUTES[key])


def cycle_payloads(module: Any) -> tuple[Payloads, list[str]]:
    """One cycle's payloads from the recordings, with the per-instrument round where the venue has one."""
    payloads: Payloads = {}
    files: list[str] = []
    for endpoint in module.SPEC.endpoints:
        payloads[endpoint.name], name = recorded(module.SPEC.id, endpoint)
        files += [name] if name else []
    for endpoint in module.SPEC.per_instrument(payloads, 0) if module.SPEC.per_instrument else ():
        answer, name = recorded(module.SPEC.id, endpoint)
        if answer is not None:
            payloads.setdefault(endpoint.name, {})[endpoint.instrument] = answer
            files.append(name)
    return payloads, files


def skip_reason(venue: str) -> str | None:
    ccxt_id = CASES[venue].ccxt_id if venue in CASES else CCXT_IDS.get(venue, venue)
    if ccxt_id not in ccxt.exchanges:
        return f"ccxt {ccxt.__version__} has no exchange {ccxt_id!r}"
    has = getattr(ccxt, ccxt_id)().has
    if not (has.get("fetchFundingRates") or has.get("fetchFundingRate")):
        return f"ccxt {ccxt_id} has neither fetchFundingRates nor fetchFundingRate"
    return None


def market(row: FundingRate, info: Any) -> dict[str, Any]:
    """The minimal market ccxt's parsers need; Phemex keeps its scales at the market's top level."""
    scales = {k: info[k] for k in ("priceScale", "ratioScale") if isinstance(info, dict) and k in info}
    linear = row.contract_type == "linear"
    return {
        "id": row.native_symbol, "symbol": row.symbol, "base": row.base, "quote": row.quote,
        "settle": row.settle, "type": "swap", "spot": False, "swap": True, "future": False,
        "option": False, "contract": True, "linear": linear, "inverse": not linear, "info": info, **scales,
    }  # fmt: skip


def ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1000)


def hours(interval: Any) -> Any:
    """ccxt's `interval` ("8h") in hours; anything else (a raw string it could not map) as it is."""
    if isinstance(interval, str) and interval.endswith("h") and interval[:-1].isdigit():
        return float(interval[:-1])
    return interval


FIELDS = ("rate", "interval", "next funding", "predicted")


class Result(NamedTuple):
    row: FundingRate
    ours: tuple[Any, ...]
    ccxt: tuple[Any, ...] | None
    """ccxt's values of FIELDS; None when its parser raised (`parsed` is then the error)."""
    parsed: Any

    def differs(self) -> tuple[bool, ...]:
        return tuple(
            self.ccxt is None or not same(a, b)
            for a, b in zip(self.ours, self.ccxt or self.ours, strict=True)
        )


def same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
    return a == b


def parse_all(case: Case, ours: list[FundingRate], payloads: Payloads, observed_at: datetime) -> list[Result]:
    raw, infos = case.rows(payloads), case.info(payloads) if case.info else {}
    exchange = getattr(ccxt, case.ccxt_id)()
    exchange.milliseconds = lambda: ms(observed_at)  # ccxt's clock = our observation time
    exchange.set_markets([market(row, infos.get(row.native_symbol)) for row in ours])
    results = []
    for row in (row for row in ours if row.native_symbol in raw):
        mine = (row.funding_rate, row.interval_hours, ms(row.next_funding_time), row.predicted_rate)
        try:
            parsed = exchange.parse_funding_rate(raw[row.native_symbol], exchange.market(row.native_symbol))
        except Exception as exc:  # ccxt's own failure is a finding, not a crash
            results.append(Result(row, mine, None, f"parse failed: {type(exc).__name__}: {exc}"))
            continue
        theirs = ("fundingRate", "interval", "fundingTimestamp", "nextFundingRate")
        values = tuple(hours(parsed[k]) if k == "interval" else parsed[k] for k in theirs)
        results.append(Result(row, mine, values, parsed))
    return results


def show(values: tuple[Any, ...], marks: tuple[bool, ...] = (False,) * 4) -> list[str]:
    def one(value: Any, kind: str) -> str:
        if value is None:
            return "—"
        if kind == "next funding" and isinstance(value, int):
            return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")
        if kind == "interval" and isinstance(value, int | float):
            return f"{value:g}h"
        return f"{value:.8g}" if isinstance(value, float) else str(value)

    return [one(v, kind) + (" *" if m else "") for v, kind, m in zip(values, FIELDS, marks, strict=True)]


def line(label: str, side: str, cells: list[str]) -> str:
    return f"  {label:<22} {side:<5}" + "".join(f"{cell:<19}" for cell in cells)


def report(case: Case, results: list[Result]) -> None:
    counts = [sum(r.differs()[i] for r in results) for i in range(len(FIELDS))]
    summary = ", ".join(f"{name} {n}" for name, n in zip(FIELDS, counts, strict=True))
    label = f" on {case.label}" if case.label else ""
    print(f"  ccxt {case.ccxt_id}{label}: {len(results)} contracts compared; differing: {summary}")
    seen: set[Any] = set()
    first, rest = [], []
    for result in results:  # one of each (interval, contract type, difference pattern) first
        key = (result.row.interval_hours, result.row.contract_type, result.differs())
        (rest if key in seen else first).append(result)
        seen.add(key)
    print(line("contract", "", list(FIELDS)))
    for result in (first + rest)[:3]:
        print(line(result.row.native_symbol, "ours", show(result.ours)))
        if result.ccxt is None:
            print(line("", "ccxt", [result.parsed]))
            continue
        print(line("", "ccxt", show(result.ccxt, result.differs())))
        moved = result.parsed["nextFundingTimestamp"]
        if result.ccxt[2] is None and moved is not None:  # ccxt files the settlement as the next one
            print(line("", "", ["", "", f"(ccxt nextFundingTimestamp {show((None, None, moved, None))[2]})"]))


def compare(venue: str, observed_at: datetime) -> None:
    module = VENUES[venue]
    payloads, files = cycle_payloads(module)
    print(f"\n== {venue}   recordings: {', '.join(files) or 'none'}")
    reason = skip_reason(venue)
    if reason is not None:
        print(f"  ccxt not compared: {reason}")
        return
    ours = module.build_rows(payloads, observed_at).rows
    print(f"  ours: {len(ours)} rows")
    for case in (CASES[venue], ALSO[venue]) if venue in ALSO else (CASES[venue],):
        report(case, parse_all(case, ours, payloads, observed_at))
    if venue in NOTES:
        print(f"  note: {NOTES[venue]}")


def main() -> None:
    observed_at = datetime.now(UTC).replace(microsecond=0)
    print(f"observed_at {observed_at.isoformat()} (ours, and ccxt's clock); ccxt {ccxt.__version__}")
    for venue in VENUES:
        compare(venue, observed_at)


if __name__ == "__main__":
    main()
