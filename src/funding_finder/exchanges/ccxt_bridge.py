"""Any ccxt exchange with `fetchFundingRates` as venue `ccxt:<id>` (extra `funding-finder[ccxt]`).

`venue(id)` is a module-like venue: `SPEC` (one RATES endpoint, `fetchFundingRates`), a pure `build_rows`
and `make_client`, a VenueClient that calls ccxt instead of HTTP. ccxt's limiter is off: each of its HTTP
requests (`load_markets` too) passes our RateGate, under ccxt's `rateLimit`. One ccxt instance per thread
(the sync classes are not thread-safe); a new thread shares the last loaded markets for an hour. Payload:
{"rates": {symbol: ccxt funding dict sans `info`}, "markets": {symbol: {id, base, quote, settle, ...}}}.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

try:
    import ccxt
except ImportError:  # the optional extra is not installed
    ccxt = None

from funding_finder import errors as err
from funding_finder.exchanges.base import ROW_ERRORS, BuildResult, Endpoint, Role, VenueSpec, parse_rows, text
from funding_finder.http import DEFAULT_RATE_LIMIT_PAUSE_S, VenueClient
from funding_finder.model import FundingRate, from_ms, make_rate, number, optional_number
from funding_finder.ratelimit import Limit

PREFIX = "ccxt:"
RATES = "fetchFundingRates"
MARKETS_MAX_AGE_S = 3600.0
NOT_PERPETUAL = ("spot", "option", "future")
MARKET_FIELDS = ("id", "base", "quote", "settle", "linear", "inverse", "swap", "active")
_ROOT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")
_HOURS_PER_UNIT = {"m": 1 / 60, "h": 1.0, "d": 24.0}
_VENUES: dict[str, ModuleType] = {}


def venue(exchange_id: str) -> ModuleType:
    """The venue module of ccxt exchange `exchange_id`; KeyError says why there is none."""
    if ccxt is None:
        raise KeyError(f"ccxt:{exchange_id} needs ccxt: pip install 'funding-finder[ccxt]'")
    if exchange_id not in _VENUES:
        if exchange_id not in ccxt.exchanges:
            raise KeyError(f"unknown ccxt exchange {exchange_id!r}; with fetchFundingRates: {_usable()}")
        exchange = getattr(ccxt, exchange_id)()
        if exchange.has.get(RATES) is not True:
            raise KeyError(f"ccxt exchange {exchange_id!r} has no {RATES}; those with it: {_usable()}")
        module = ModuleType(f"{__name__}.{exchange_id}", f"ccxt exchange {exchange_id}")
        module.SPEC = _spec(exchange)
        module.build_rows = functools.partial(build_rows, venue_id=module.SPEC.id)
        module.make_client = CcxtClient
        _VENUES[exchange_id] = module
    return _VENUES[exchange_id]


def _usable() -> str:
    return ", ".join(i for i in ccxt.exchanges if getattr(ccxt, i)().has.get(RATES) is True)


def _spec(exchange: Any) -> VenueSpec:
    urls, per_ms = exchange.urls, exchange.rateLimit or 1000.0
    api = urls["api"]
    preferred = [api.get("rest"), api.get("public")] if isinstance(api, dict) else []
    main = next(url for url in _urls([*preferred, api]) if _ROOT.match(url))  # `rest`, `public`, first
    parts = urlsplit(exchange.implode_hostname(main))
    docs = [*_urls(urls.get("doc")), *_urls(urls.get("www")), ""]
    # ccxt's rateLimit is ms between two requests: so many per second, or one per so many seconds
    window = (math.floor(1000 / per_ms), 1.0) if per_ms <= 1000 else (1, per_ms / 1000)
    return VenueSpec(
        id=PREFIX + exchange.id,
        name=f"{exchange.name} (ccxt)",
        hosts={"api": f"{parts.scheme}://{parts.netloc}"},
        endpoints=(Endpoint(RATES, "", Role.RATES),),
        limits=(Limit("rateLimit", *window),),
        docs_url=docs[0],
        workers=1,
    )


def _urls(node: Any) -> Iterator[str]:
    """Every string in a nest of dicts and lists, depth first."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict | list):
        for child in node.values() if isinstance(node, dict) else node:
            yield from _urls(child)


def rewrite_roots(node: Any, root: str) -> Any:
    """Every URL in `node` (ccxt's `urls['api']`) with its scheme and host replaced by `root`."""
    if isinstance(node, dict):
        return {key: rewrite_roots(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [rewrite_roots(value, root) for value in node]
    return _ROOT.sub(root.rstrip("/"), node, count=1) if isinstance(node, str) else node


def perpetual_types(options: Mapping[str, Any]) -> dict[str, Any]:
    """ccxt's `fetchMarkets` option without the types that hold no perpetuals (when any remain)."""
    fetch_markets = options.get("fetchMarkets")
    types = fetch_markets.get("types") if isinstance(fetch_markets, dict) else None
    if isinstance(types, list) and (kept := [t for t in types if t not in NOT_PERPETUAL]):
        return {**fetch_markets, "types": kept}
    if isinstance(types, dict) and any(on for t, on in types.items() if t not in NOT_PERPETUAL):
        return {**fetch_markets, "types": {t: on and t not in NOT_PERPETUAL for t, on in types.items()}}
    return fetch_markets


def typed_error(exc: Exception, venue_id: str, endpoint: str, status: int | None = None) -> err.FetchError:
    """The project's error for a ccxt exception; `status` is the last HTTP status seen, if any."""
    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return err.RateLimited(venue_id, endpoint, detail)
    if isinstance(exc, ccxt.RequestTimeout):
        return err.CallTimeout(venue_id, endpoint, detail)
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        client_side = status is not None and 400 <= status < 500
        return (err.HttpClientError if client_side else err.HttpServerError)(venue_id, endpoint, detail)
    if isinstance(exc, ccxt.NetworkError):
        return err.ConnectionFailed(venue_id, endpoint, detail)
    if isinstance(exc, ccxt.BadResponse):
        return err.BadPayload(venue_id, endpoint, detail)
    return err.ExchangeError(venue_id, endpoint, detail)


@functools.cache
def gated_class(exchange_id: str) -> type:
    """ccxt's class for the exchange, its every HTTP request sent through the owning client's gate."""

    class Gated(getattr(ccxt, exchange_id)):
        def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            return self.ff_client.send(self, super().fetch, url, method, headers, body)

        def on_rest_response(self, code: int, *args: Any) -> Any:
            self.ff_status = code
            return super().on_rest_response(code, *args)

    Gated.__name__ = Gated.__qualname__ = f"Gated_{exchange_id}"
    return Gated


class CcxtClient(VenueClient):
    """A VenueClient whose `fetchFundingRates` is ccxt's `load_markets` + `fetch_funding_rates`,
    counted like HTTP calls (`requests`, `answers`, `latencies_s`) and retried by `fetch`."""

    def __init__(self, spec: VenueSpec, gate: Any, **kwargs: Any) -> None:
        super().__init__(spec, gate, **kwargs)
        self.exchange_id = spec.id.removeprefix(PREFIX)
        self.api_root = (kwargs.get("base_urls") or {}).get("api")
        self._local = threading.local()
        self._source: tuple[float, Any] | None = None  # (loaded at, a snapshot of the loaded markets)

    def exchange(self) -> Any:
        """This thread's ccxt instance."""
        ex = getattr(self._local, "exchange", None)
        if ex is None:
            ex = gated_class(self.exchange_id)({"enableRateLimit": False, "timeout": self.timeout_s * 1000})
            if "fetchMarkets" in ex.options:
                ex.options["fetchMarkets"] = perpetual_types(ex.options)
            if self.api_root:
                ex.urls["api"] = rewrite_roots(ex.urls["api"], self.api_root)
            ex.ff_client, ex.ff_deadline, ex.ff_status, ex.ff_markets_at = self, None, None, None
            self._local.exchange = ex
        return ex

    def _fetch_once(self, endpoint: Endpoint, deadline: float | None) -> Any:
        ex = self.exchange()
        ex.ff_deadline, ex.ff_status = deadline, None
        try:
            self._markets(ex)
            rates = ex.fetch_funding_rates()
        except err.FetchError:
            raise
        except ROW_ERRORS as exc:  # ccxt's parser tripped over the answer
            detail = f"ccxt could not parse it: {type(exc).__name__}: {exc}"
            raise err.BadPayload(self.spec.id, endpoint.name, detail) from exc
        except ccxt.BaseError as exc:
            error = typed_error(exc, self.spec.id, endpoint.name, ex.ff_status)
            if isinstance(error, err.RateLimited):
                self.gate.pause_for(DEFAULT_RATE_LIMIT_PAUSE_S)
            raise error from exc
        if not rates:
            raise err.EmptyPayload(self.spec.id, endpoint.name, "ccxt returned no funding rates")
        markets = ex.markets or {}
        return {
            "rates": {s: {k: v for k, v in r.items() if k != "info"} for s, r in rates.items()},
            "markets": {s: {k: markets[s].get(k) for k in MARKET_FIELDS} for s in rates if s in markets},
        }

    def _markets(self, ex: Any) -> None:
        """Markets shared from the last load (a snapshot no thread reloads), reloaded once too old."""
        with self._lock:
            source = self._source
        if source is not None and self.clock() - source[0] < MARKETS_MAX_AGE_S:
            if ex.ff_markets_at != source[0]:
                ex.set_markets_from_exchange(source[1])
                ex.ff_markets_at = source[0]
            return
        ex.load_markets(reload=True)
        ex.ff_markets_at = self.clock()
        snapshot = type(ex)({"enableRateLimit": False}).set_markets_from_exchange(ex)
        with self._lock:
            self._source = (ex.ff_markets_at, snapshot)

    def send(self, ex: Any, send: Callable[..., Any], url: str, method: str, headers: Any, body: Any) -> Any:
        """One HTTP request of ccxt's, under the gate, the timeout and the deadline, counted."""
        deadline = ex.ff_deadline
        with self.gate.call(RATES, None, deadline):
            timeout = self.timeout_s if deadline is None else min(self.timeout_s, deadline - self.clock())
            if timeout <= 0:
                raise err.DeadlineExceeded(self.spec.id, RATES, "deadline passed before the call")
            ex.timeout, ex.ff_status = timeout * 1000, None
            with self._lock:
                self.requests += 1
            sent = time.perf_counter()
            try:
                answer = send(url, method, headers, body)
            finally:
                if ex.ff_status is not None:
                    with self._lock:
                        self.latencies_s.append(time.perf_counter() - sent)
        if isinstance(answer, str | bytes):
            raise err.BadJson(self.spec.id, RATES, f"body is not JSON: {str(answer)[:160]!r}")
        return answer


def interval_hours(interval: Any) -> float | None:
    """ccxt's funding `interval` ("8h", "1h", "30m", "1d") in hours; None when it is not one."""
    match = _INTERVAL.match(interval) if isinstance(interval, str) else None
    return float(match.group(1)) * _HOURS_PER_UNIT[match.group(2)] if match else None


def build_rows(payloads: Mapping[str, Any | None], observed_at: datetime, *, venue_id: str) -> BuildResult:
    """Rows of the swap markets whose ccxt funding dict has a rate; a malformed one costs that row."""
    payload = payloads.get(RATES)
    rates, markets = (payload.get("rates"), payload.get("markets")) if isinstance(payload, dict) else (0, 0)
    if not isinstance(rates, dict) or not isinstance(markets, dict):
        raise err.BadPayload(venue_id, RATES, "expected {rates, markets}, each by symbol")

    def one(item: tuple[str, Any]) -> FundingRate | None:
        symbol, rate = item
        market = markets.get(symbol)
        if not market or not market.get("swap") or market.get("active") is False:
            return None  # not a perpetual swap, or not tradable now
        if rate.get("fundingRate") is None:
            return None
        if market.get("linear") == market.get("inverse"):
            raise ValueError(f"neither linear nor inverse: {market!r}")
        next_ms = rate.get("fundingTimestamp")
        return make_rate(
            exchange=venue_id,
            native_symbol=text(market["id"]),
            listed_base=text(market["base"]),
            quote=text(market["quote"]),
            settle=text(market["settle"]),
            contract_type="linear" if market["linear"] else "inverse",
            funding_rate=number(rate["fundingRate"]),
            interval_hours=interval_hours(rate.get("interval")),
            next_funding_time=None if next_ms is None else from_ms(next_ms),
            observed_at=observed_at,
            predicted_rate=optional_number(rate.get("nextFundingRate")),
            mark_price=optional_number(rate.get("markPrice")),
            index_price=optional_number(rate.get("indexPrice")),
        )

    parsed = parse_rows(venue_id, RATES, list(rates.items()), one)
    return BuildResult(parsed.items, parsed.bad_rows)
