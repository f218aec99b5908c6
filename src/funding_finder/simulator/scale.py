"""Scaling a venue's recordings up to a realistic contract count, with clearly synthetic clones.

Many recordings are trimmed samples (a few rows), so a cycle through the plain simulator parses a few
rows per venue and its timings say little. `scaled(recordings, handlers, counts)` returns the
simulator's recordings (and request handlers) with each named venue grown to `counts[venue]` contracts,
counting the recorded contracts that clones can be copied from (its *templates*, below) plus the clones:

- Recorded rows are kept as recorded, in their order; the clones are appended after them. A scaled
  recording is re-serialized (compact JSON), so its bytes differ, but every recorded value parses the
  same (json round-trips numbers and strings exactly).
- Clone k (1, 2, …) of a venue is a copy of a recorded *template* row (the venue's eligible rows in
  turn: k-1 modulo their count) whose contract name carries the marker `SIM<k, 5 digits>` inserted where
  the base asset starts: `BTCUSDT` → `SIM00001BTCUSDT`, base `BTC` → `SIM00001BTC`, Bitfinex
  `tBTCF0:USTF0` → `tSIM00001BTCF0:USTF0`. No listed asset is named so, and the name says it is the
  simulator's. Every other value (rate, times, prices, intervals) is the template's, copied unchanged.
  (The marker hides a multiplier prefix: a clone of `1000PEPEUSDT` is a plain contract, multiplier 1.)
  Numeric ids that a venue joins on (Lighter's `market_id`) get `SYNTHETIC_ID_BASE + k`.
- The same marker goes into every recording of the venue that is joined by symbol (Binance premiumIndex
  + fundingInfo + exchangeInfo, OKX funding-rate + instruments, Bybit tickers + instruments-info, …), so
  the adapters' joins find a clone in each list where its template is, and a clone is a normal row.
- Templates are the rows of the rate list that are also in every *required* joined list and pass each
  list's filter (perpetual, trading), so a clone parses into a stored row whenever its template does. A
  venue's other recorded rows stay as they are and are not counted (Binance's settling contracts).
- Per-instrument endpoints (`Lookup`) answer a clone too: OKX `funding-rate?instId=<id>` with that row
  of the (scaled) bulk list in the bulk answer's envelope (recorded instruments without a per-instrument
  recording included); Crypto.com `get-valuations` with the template's recorded answer, renamed.
  A recorded per-instrument answer is still served unchanged.

Unscaled (not in `SCALES`): Hyperliquid (its recording already lists 234 assets, and its rate rows are
a second list parallel by index to the universe, not joined by name) and dYdX (its recording is the
complete list of 296 markets). Within a scaled venue, the families with no recording stay unrecorded
(Binance COIN-M rates, Bybit inverse instruments, Gate BTC-settled, Bitget USDC/COIN, Deribit's ETH,
USDC and USDT summaries): Deribit's clones are all copies of the recorded BTC-PERPETUAL (inverse), in the
BTC summary, where the live venue's perpetuals are mostly USDC-settled linear ones.
The default simulator scales nothing: demo and tests see the recordings as recorded.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from funding_finder.recordings import load_json
from funding_finder.simulator.routes import ROUTES, find_route
from funding_finder.simulator.spec import Reply, RouteKey

MARKER = "SIM"
MARKER_DIGITS = 5
MAX_CLONES = 10**MARKER_DIGITS - 1
MAX_FACTOR = 100.0
SYNTHETIC_ID_BASE = 1_000_000  # far above any venue's recorded market ids

Path = tuple[str | int, ...]
Handler = Callable[[Mapping[str, Any]], Reply | None]


@dataclass(frozen=True)
class Rows:
    """Where one recording keeps its rows, and which fields name the contract.

    `at`: keys from the document's root to the row list. `key`: the field (or, for rows that are
    arrays, the index) holding the symbol the venue's lists are joined on. `names`: other
    fields carrying the base or the symbol, marked the same way. `ids`: numeric join ids, replaced by
    `SYNTHETIC_ID_BASE + k`. `required`: a template must be in this list (the rate list always is).
    `keep`: rows of this list that may serve as templates (e.g. perpetual and trading).
    """

    route: RouteKey
    at: Path
    key: str | int
    names: tuple[str | int, ...] = ()
    ids: tuple[str | int, ...] = ()
    required: bool = True
    keep: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Lookup:
    """A per-instrument endpoint (`method path ?param=<symbol>`) that must also answer the clones.

    `rows` set: answered with the row of that (scaled) list, in its recording's envelope. `rows` None:
    answered with the template's recorded answer (same parameters, the template's symbol), with the
    fields at `renamed` (paths inside the answer) marked.
    """

    method: str
    path: str
    param: str
    rows: Rows | None = None
    renamed: tuple[Path, ...] = ()


@dataclass(frozen=True)
class VenueScale:
    """How one venue's recordings are scaled: its rate list first, then the lists joined to it."""

    venue: str
    rates: Rows
    joined: tuple[Rows, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    lead: str = ""
    """A regex of what comes before the base in a name (`t` on Bitfinex, `PERP_` on WOO X)."""


def _r(venue: str, path: str, *match: tuple[str, str]) -> RouteKey:
    return RouteKey(venue, "GET", path, tuple(match))


def _is(**wanted: Any) -> Callable[[Any], bool]:
    return lambda row: isinstance(row, dict) and all(row.get(k) == v for k, v in wanted.items())


def _binance_info(row: Any) -> bool:
    return row.get("status") == "TRADING" and row.get("contractType") in ("PERPETUAL", "TRADIFI_PERPETUAL")


BINANCE_INFO = _binance_info
OKX_FUNDING = "/api/v5/public/funding-rate"
OKX_RATES = Rows(_r("okx", OKX_FUNDING, ("instId", "ANY")), ("data",), "instId", keep=_is(instType="SWAP"))
CRYPTOCOM_VALUATIONS = "/exchange/v1/public/get-valuations"
BITGET = "/api/v2/mix/market/"
DERIBIT_SUMMARY = "/api/v2/public/get_book_summary_by_currency"
USDT_FUTURES = ("productType", "USDT-FUTURES")

SCALES: dict[str, VenueScale] = {
    s.venue: s
    for s in (
        VenueScale(
            "binance",
            Rows(_r("binance", "/fapi/v1/premiumIndex"), (), "symbol"),
            (
                Rows(
                    _r("binance", "/fapi/v1/exchangeInfo"),
                    ("symbols",),
                    "symbol",
                    ("pair", "baseAsset"),
                    keep=BINANCE_INFO,
                ),
                Rows(_r("binance", "/fapi/v1/fundingInfo"), (), "symbol", required=False),
            ),
        ),
        VenueScale(
            "okx",
            OKX_RATES,
            (
                Rows(
                    _r("okx", "/api/v5/public/instruments", ("instType", "SWAP")),
                    ("data",),
                    "instId",
                    ("instFamily", "uly", "ctValCcy"),
                    keep=_is(state="live"),
                ),
            ),
            (Lookup("GET", OKX_FUNDING, "instId", rows=OKX_RATES),),
        ),
        VenueScale(
            "bybit",
            Rows(_r("bybit", "/v5/market/tickers", ("category", "linear")), ("result", "list"), "symbol"),
            (
                Rows(
                    _r("bybit", "/v5/market/instruments-info", ("category", "linear")),
                    ("result", "list"),
                    "symbol",
                    ("baseCoin",),
                    keep=_is(status="Trading", contractType="LinearPerpetual"),
                ),
            ),
        ),
        VenueScale(
            "bitget",
            Rows(_r("bitget", BITGET + "current-fund-rate", USDT_FUTURES), ("data",), "symbol"),
            (
                Rows(_r("bitget", BITGET + "tickers", USDT_FUTURES), ("data",), "symbol"),
                Rows(
                    _r("bitget", BITGET + "contracts", USDT_FUTURES),
                    ("data",),
                    "symbol",
                    ("baseCoin",),
                    keep=_is(symbolStatus="normal"),
                ),
            ),
        ),
        VenueScale(
            "gate",
            Rows(
                _r("gate", "/api/v4/futures/usdt/contracts"),
                (),
                "name",
                keep=lambda row: row.get("in_delisting") is False,
            ),
        ),
        VenueScale(
            "mexc",
            Rows(_r("mexc", "/api/v1/contract/funding_rate"), ("data",), "symbol"),
            (Rows(_r("mexc", "/api/v1/contract/ticker"), ("data",), "symbol", required=False),),
        ),
        VenueScale(
            "kucoin",
            Rows(
                _r("kucoin", "/api/v1/contracts/active"),
                ("data",),
                "symbol",
                ("displaySymbol", "baseCurrency", "displayBaseCurrency"),
                keep=_is(status="Open"),
            ),
        ),
        VenueScale(
            "htx",
            Rows(
                _r("htx", "/linear-swap-api/v1/swap_batch_funding_rate"),
                ("data",),
                "contract_code",
                ("symbol",),
            ),
            (
                Rows(
                    _r("htx", "/linear-swap-api/v1/swap_contract_info", ("business_type", "swap")),
                    ("data",),
                    "contract_code",
                    ("symbol", "pair"),
                    keep=_is(contract_status=1),
                ),
            ),
        ),
        VenueScale("bingx", Rows(_r("bingx", "/openApi/swap/v2/quote/premiumIndex"), ("data",), "symbol")),
        VenueScale(
            "deribit",
            Rows(
                _r("deribit", DERIBIT_SUMMARY, ("currency", "BTC"), ("kind", "future")),
                ("result",),
                "instrument_name",
            ),
            (
                Rows(
                    _r(
                        "deribit", "/api/v2/public/get_instruments", ("currency", "BTC"), ("expired", "false")
                    ),
                    ("result",),
                    "instrument_name",
                    ("base_currency",),
                    keep=_is(kind="future", settlement_period="perpetual"),
                ),
            ),
        ),
        VenueScale(
            "krakenfutures",
            Rows(
                _r("krakenfutures", "/derivatives/api/v3/tickers"),
                ("tickers",),
                "symbol",
                ("pair",),
                keep=_is(tag="perpetual"),
            ),
            (
                Rows(
                    _r("krakenfutures", "/derivatives/api/v3/instruments"),
                    ("instruments",),
                    "symbol",
                    ("base", "pair"),
                ),
            ),
            lead=r"P[FI]_",
        ),
        VenueScale(
            "coinbaseintl",
            Rows(
                _r("coinbaseintl", "/api/v1/instruments"),
                (),
                "symbol",
                ("base_asset_name",),
                ids=("instrument_id",),
                keep=_is(type="PERP"),
            ),
        ),
        VenueScale(
            "bitfinex",
            Rows(_r("bitfinex", "/v2/status/deriv", ("keys", "ALL")), (), 0),
            lead="t",
        ),
        VenueScale(
            "phemex",
            Rows(_r("phemex", "/md/v2/ticker/24hr/all"), ("result",), "symbol"),
            (Rows(_r("phemex", "/public/products"), ("data", "products"), "symbol", required=False),),
        ),
        VenueScale(
            "woox",
            Rows(_r("woox", "/v3/public/fundingRate"), ("data", "rows"), "symbol"),
            (Rows(_r("woox", "/v3/public/futures"), ("data", "rows"), "symbol"),),
            lead="PERP_",
        ),
        VenueScale(
            "bitmart",
            Rows(
                _r("bitmart", "/contract/public/details"),
                ("data", "symbols"),
                "symbol",
                ("base_currency", "index_name"),
                keep=_is(status="Trading"),
            ),
        ),
        VenueScale("coinex", Rows(_r("coinex", "/v2/futures/funding-rate"), ("data",), "market")),
        VenueScale(
            "aster",
            Rows(_r("aster", "/fapi/v1/premiumIndex"), (), "symbol"),
            (
                Rows(
                    _r("aster", "/fapi/v1/exchangeInfo"),
                    ("symbols",),
                    "symbol",
                    ("pair", "baseAsset"),
                    keep=BINANCE_INFO,
                ),
                Rows(_r("aster", "/fapi/v1/fundingInfo"), (), "symbol", required=False),
            ),
        ),
        VenueScale("backpack", Rows(_r("backpack", "/api/v1/markPrices"), (), "symbol")),
        VenueScale(
            "paradex",
            Rows(_r("paradex", "/v1/markets/summary", ("market", "ALL")), ("results",), "symbol"),
            (Rows(_r("paradex", "/v1/markets"), ("results",), "symbol", ("base_currency",)),),
        ),
        VenueScale(
            "lighter",
            Rows(
                _r("lighter", "/api/v1/funding-rates"),
                ("funding_rates",),
                "symbol",
                ids=("market_id",),
                keep=_is(exchange="lighter"),
            ),
            (
                Rows(
                    _r("lighter", "/api/v1/orderBookDetails"),
                    ("order_book_details",),
                    "symbol",
                    ids=("market_id",),
                ),
            ),
        ),
        VenueScale(
            "cryptocom",
            Rows(
                _r("cryptocom", "/exchange/v1/public/get-instruments"),
                ("result", "data"),
                "symbol",
                ("display_name", "base_ccy", "underlying_symbol"),
                keep=_is(inst_type="PERPETUAL_SWAP"),
            ),
            lookups=(
                Lookup(
                    "GET", CRYPTOCOM_VALUATIONS, "instrument_name", renamed=(("result", "instrument_name"),)
                ),
            ),
        ),
    )
}
"""Every venue that can be scaled, by id: its rate list, the lists joined to it, per-instrument lookups."""


REALISTIC: dict[str, int] = {
    "binance": 700,
    "okx": 300,
    "bybit": 650,
    "bitget": 550,
    "gate": 600,
    "mexc": 750,
    "kucoin": 500,
    "htx": 250,
    "bingx": 600,
    "deribit": 130,
    "krakenfutures": 300,
    "coinbaseintl": 100,
    "bitfinex": 100,
    "phemex": 400,
    "woox": 250,
    "bitmart": 600,
    "coinex": 250,
    "aster": 250,
    "backpack": 60,
    "paradex": 100,
    "lighter": 100,
    "cryptocom": 250,
}
"""The `realistic` preset: round contract counts of the order of each venue's perpetual listing (our
assumption for benchmarks, not a measured figure; Deribit's from a third-party probe of 2026 in the
exchange notes: 129 USDC perpetuals besides BTC's and ETH's). A venue that already has more templates gets no
clones (Binance: 691 perpetuals trading)."""


# -- parsing the command-line value ------------------------------------------------------------------


def parse_scale(text: str, recorded: Mapping[str, int] | None = None) -> dict[str, int]:
    """`--scale` → {venue: contracts}. Items, comma-separated, later ones winning: `realistic` (the
    preset), a factor (`3` or `3x`: every scalable venue at that many times its recorded contracts,
    see `recorded_counts`), or `venue=N` (N contracts). ValueError says what was wrong, and which
    venues scale."""
    counts: dict[str, int] = {}
    recorded = recorded if recorded is not None else recorded_counts()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.lower() == "realistic":
            counts.update(REALISTIC)
        elif "=" in item:
            venue, _, number = item.partition("=")
            counts[_scalable(venue.strip().lower())] = _count(number, item)
        else:
            factor = _factor(item)
            counts.update({venue: math.ceil(rows * factor) for venue, rows in recorded.items()})
    return counts


def _scalable(venue: str) -> str:
    if venue not in SCALES:
        raise ValueError(
            f"venue {venue!r} cannot be scaled; scalable: {', '.join(SCALES)} "
            "(see funding_finder.simulator.scale for why the others are not)"
        )
    return venue


def _count(number: str, item: str) -> int:
    try:
        count = int(number)
    except ValueError:
        raise ValueError(f"expected VENUE=CONTRACTS with a whole number, got {item!r}") from None
    if not 1 <= count <= MAX_CLONES:
        raise ValueError(f"contracts must be between 1 and {MAX_CLONES}, got {item!r}")
    return count


def _factor(item: str) -> float:
    try:
        factor = float(item.lower().removesuffix("x"))
    except ValueError:
        raise ValueError(
            f"expected 'realistic', a factor such as 3, or VENUE=CONTRACTS; got {item!r}"
        ) from None
    if not (math.isfinite(factor) and 0 < factor <= MAX_FACTOR):
        raise ValueError(f"a factor must be above 0 and at most {MAX_FACTOR:g}, got {item!r}")
    return factor


def recorded_documents(venue: str) -> dict[RouteKey, Any]:
    """The recorded documents of the lists `venue` scales, parsed."""
    return {rows.route: load_json(venue, ROUTES[rows.route]) for rows in _lists(SCALES[venue])}


def recorded_counts() -> dict[str, int]:
    """Each scalable venue's recorded contracts that clones can be copied from (see `templates`)."""
    return {venue: len(templates(scale, recorded_documents(venue))) for venue, scale in SCALES.items()}


# -- scaling -----------------------------------------------------------------------------------------


def scaled(
    recordings: Mapping[RouteKey, bytes],
    handlers: Mapping[tuple[str, str, str], Handler],
    counts: Mapping[str, int],
) -> tuple[dict[RouteKey, bytes], dict[tuple[str, str, str], Handler]]:
    """The recordings and handlers with every venue of `counts` grown to that many contracts (a venue
    that already has as many templates stays as recorded)."""
    recordings, handlers = dict(recordings), dict(handlers)
    for venue, count in counts.items():
        scale = SCALES[_scalable(venue)]
        documents = {rows.route: json.loads(recordings[rows.route]) for rows in _lists(scale)}
        if not _grow(scale, documents, count):
            continue
        for route, document in documents.items():
            recordings[route] = _encode(document)
        for lookup in scale.lookups:
            key = (venue, lookup.method, lookup.path)
            found = _lookup_handler(scale, lookup, recordings, documents)
            # a venue's own handler of that path (its history) answers first; what it leaves, the lookup
            handlers[key] = found if key not in handlers else _either(handlers[key], found)
    return recordings, handlers


def _either(first: Handler, then: Handler) -> Handler:
    """A handler asking `first`, and `then` where `first` does not answer (returns None)."""

    def handle(params: Mapping[str, Any]) -> Any:
        answer = first(params)
        return then(params) if answer is None else answer

    return handle


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _lists(scale: VenueScale) -> tuple[Rows, ...]:
    return (scale.rates, *scale.joined)


def _rows_of(document: Any, rows: Rows) -> list[Any]:
    node = document
    for step in rows.at:
        node = node[step]
    if not isinstance(node, list):
        raise TypeError(f"{rows.route.venue} {rows.route.path}: no row list at {rows.at}")
    return node


def _by_key(rows_list: list[Any], rows: Rows) -> dict[Any, Any]:
    return {row[rows.key]: row for row in rows_list}


def templates(scale: VenueScale, documents: Mapping[RouteKey, Any]) -> list[Any]:
    """The symbols clones are copied from: rate rows in every required list, passing each list's filter."""
    eligible: list[Any] | None = None
    for rows in _lists(scale):
        listed = _by_key(_rows_of(documents[rows.route], rows), rows)
        kept = {key for key, row in listed.items() if rows.keep is None or rows.keep(row)}
        if eligible is None:
            eligible = [key for key in listed if key in kept]
        elif rows.required:
            eligible = [key for key in eligible if key in kept]
    return eligible or []


def marker(k: int) -> str:
    """The synthetic base prefix of clone `k` (1-based): `SIM00001`."""
    return f"{MARKER}{k:0{MARKER_DIGITS}d}"


def mark(value: Any, k: int, lead: str = "") -> Any:
    """`value` with clone k's marker inserted after `lead` (regex) at its start; non-strings unchanged."""
    if not isinstance(value, str):
        return value
    found = re.match(lead, value) if lead else None
    at = found.end() if found else 0
    return value[:at] + marker(k) + value[at:]


def _clone(row: Any, rows: Rows, k: int, lead: str) -> Any:
    twin = copy.deepcopy(row)
    for name in (rows.key, *rows.names):
        if isinstance(twin, list) or name in twin:
            twin[name] = mark(twin[name], k, lead)
    for name in rows.ids:
        if name in twin:
            value = SYNTHETIC_ID_BASE + k
            twin[name] = str(value) if isinstance(twin[name], str) else value
    return twin


def _grow(scale: VenueScale, documents: dict[RouteKey, Any], count: int) -> int:
    """Append the clones to every list of `documents` (in place); returns how many contracts were added."""
    names = templates(scale, documents)
    clones = min(max(0, count - len(names)), MAX_CLONES) if names else 0
    for rows in _lists(scale):
        rows_list = _rows_of(documents[rows.route], rows)
        listed = _by_key(rows_list, rows)
        for k in range(1, clones + 1):
            template = listed.get(names[(k - 1) % len(names)])
            if template is not None:  # an optional list without the template has no clone of it
                rows_list.append(_clone(template, rows, k, scale.lead))
    return clones


_CLONE = re.compile(rf"{MARKER}(\d{{{MARKER_DIGITS}}})")


def _lookup_handler(
    scale: VenueScale, lookup: Lookup, recordings: Mapping[RouteKey, bytes], documents: Mapping[RouteKey, Any]
) -> Handler:
    venue = scale.venue
    source = lookup.rows
    by_symbol = _by_key(_rows_of(documents[source.route], source), source) if source is not None else {}

    def answer(params: Mapping[str, Any]) -> Reply | None:
        route = find_route(venue, lookup.method, lookup.path, params)
        if route is not None:
            return Reply(200, recordings[route])
        symbol = params.get(lookup.param)
        if source is not None:
            row = by_symbol.get(symbol)
            return None if row is None else Reply(200, _one_row_answer(documents[source.route], source, row))
        found = _CLONE.search(symbol) if isinstance(symbol, str) else None
        if found is None:
            return None
        template = symbol[: found.start()] + symbol[found.end() :]
        route = find_route(venue, lookup.method, lookup.path, {**params, lookup.param: template})
        if route is None:
            return None
        document = json.loads(recordings[route])
        for path in lookup.renamed:
            _set(document, path, symbol)
        return Reply(200, _encode(document))

    return answer


def _one_row_answer(document: Any, rows: Rows, row: Any) -> bytes:
    """The bulk answer's envelope around one of its rows."""
    if not rows.at:
        return _encode([row])
    single = copy.copy(document)
    _set(single, rows.at, [row])
    return _encode(single)


def _set(document: Any, path: Path, value: Any) -> None:
    node = document
    for step in path[:-1]:
        node[step] = copy.copy(node[step])
        node = node[step]
    node[path[-1]] = value


def describe(counts: Mapping[str, int]) -> Iterable[str]:
    """One line per scaled venue, for the simulator's start banner."""
    for venue, count in counts.items():
        yield f"  {venue:<12} scaled to {count} contracts (clones named {MARKER}NNNNN…)"
