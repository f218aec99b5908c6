"""Injected faults: what a venue (or the proxy in front of it) sends when something goes wrong.

This module is the one place that defines fault kinds. A fault is set per venue as text,
`KIND[+KIND...][@RATE]`: `html` faults every request of the venue, `reset@0.1` a tenth of them,
`html+reset+storm@0.1` a tenth of them, each faulted request getting one of the kinds, and `mixed`
stands for `MIXED` (the transient kinds a venue shows in daily life). `all` as the venue sets every
venue at once. Which request is faulted, and with which kind, is a pure function of the seed, the
request (venue, method, path, parameters) and how many times that same request came before
(`draw`), so a run is reproducible whatever the order in which threads reach the server, and a retry
of a faulted request gets a fresh draw. Requests are still counted against the venue's limits first:
the client did send them.

Answers (status faults replace the answer, body faults change the recorded one, transport faults
change how it is sent):

- "html": HTTP 502 with nginx's HTML error page (a gateway in front of the venue failed).
- "http500": HTTP 500 with a short JSON body.
- "http503": HTTP 503 with the HTML page of an overloaded proxy.
- "storm": the venue's own over-limit answer (status and body, see `simulator/venues/*.py`) with
  `Retry-After: storm_retry_after_s`: a 429 storm that does not follow the venue's windows.
- "ban": HTTP 418 with Binance's ban body, which names the ban end in epoch ms (now + `ban_s`).
- "envelope": the venue's own error body (`ERROR_REPLIES`): HTTP 200 with its error envelope where
  the venue reports errors inside a 200, else the 4xx error body it documents.
- "truncated": HTTP 200 with the first half of the recorded body (not valid JSON).
- "empty": HTTP 200 with the venue's envelope around an empty list (see `routes.EMPTY_BODIES`).
- "missing": HTTP 200 with the recording, the first row that has the venue's required rate field
  (`REQUIRED_FIELDS`) without it; "renamed": that field renamed (camelCase ↔ snake_case).
- "drop": the connection is closed without any answer.
- "reset": status line, headers and half the body, then a TCP RST (SO_LINGER 0).
- "hang": the answer waits `hang_s` (default 30 s), then is given normally (a timeout before any byte).
- "stall": status line, headers and half the body, then `hang_s` of silence before the rest (a read
  timeout in the middle of the body).
- "drip": the answer in `DRIP_PIECES` pieces spread over `drip_s` seconds (a slow link): it arrives
  whole, late.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from funding_finder.simulator.routes import EMPTY_BODIES, VENUES, Reply

STATUS_KINDS: tuple[str, ...] = ("html", "http500", "http503", "storm", "ban", "envelope")
"""Kinds that replace the venue's answer."""
BODY_KINDS: tuple[str, ...] = ("truncated", "empty", "missing", "renamed")
"""Kinds that change the recorded body of an HTTP 200."""
TRANSPORT_KINDS: tuple[str, ...] = ("drop", "reset", "hang", "stall", "drip")
"""Kinds that change how (or whether) the answer is sent."""
FAULT_KINDS: tuple[str, ...] = STATUS_KINDS + BODY_KINDS + TRANSPORT_KINDS

MIXED: tuple[str, ...] = ("html", "http500", "http503", "drop", "reset", "hang", "storm")
"""`mixed`: the transient faults (5xx, HTML pages, cut or dead connections, timeouts, 429s) that a
client is expected to ride out with retries inside its deadline."""
ALL_VENUES = "all"
DRIP_PIECES = 50

HTML_502 = Reply(
    502,
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    content_type="text/html",
)
HTTP_500 = Reply(500, b'{"error":"Internal Server Error"}')
HTML_503 = Reply(
    503,
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n",
    content_type="text/html",
)
BAN_BODY = (
    '{{"code":-1003,"msg":"Way too much request weight used; IP banned until {until_ms}. '
    'Please use the websocket for live updates to avoid bans."}}'
)
"""Binance's 418 body, as quoted with HTTP 418 and code -1003 in https://github.com/knowm/XChange/issues/4011
and https://github.com/ccxt/binance-trade-bot/issues/283."""


def _ok(body: str) -> Reply:
    return Reply(200, body.encode())


def _bad(body: str) -> Reply:
    return Reply(400, body.encode())


ERROR_REPLIES: dict[str, Reply] = {
    # Error inside an HTTP 200, in the shape the venue handbook (exchange-notes.md, A6 and "Errors")
    # describes. Codes and messages are real where a source gives them: okx, bitget, mexc (the notes),
    # lighter (a recording), bybit (https://github.com/sieblyio/bybit-api/issues/282), htx (the swap
    # API's err_code form, https://github.com/ccxt/ccxt/pull/12469); elsewhere they are illustrative
    # (the venue's documented shape, a made-up parameter error), which is all a client can rely on.
    "okx": _ok('{"code":"51000","msg":"Parameter instId error","data":[]}'),
    "bybit": _ok(
        '{"retCode":10001,"retMsg":"Request parameter error.","result":{},"retExtInfo":{},"time":{now_ms}}'
    ),
    "bitget": _ok(
        '{"code":"400172","msg":"Parameter verification failed","requestTime":{now_ms},"data":null}'
    ),
    "kucoin": _ok('{"code":"400100","msg":"Parameter error"}'),
    "mexc": _ok('{"success":false,"code":1001,"message":"Contract does not exist"}'),
    "htx": _ok('{"status":"error","err_code":1010,"err_msg":"Account doesnt exist.","ts":{now_ms}}'),
    "bingx": _ok('{"code":109400,"msg":"Invalid parameters","data":{}}'),
    "bitmart": _ok('{"code":30002,"message":"Symbol not found","data":{}}'),
    "coinex": _ok('{"code":3008,"data":{},"message":"Service busy, please try again later"}'),
    "lighter": _ok('{"code":23000,"message":"Too Many Requests!"}'),  # the recorded 200-borne error
    "woox": _ok('{"success":false,"code":-1001,"message":"Invalid parameters"}'),
    "krakenfutures": _ok('{"result":"error","serverTime":"2026-07-04T16:00:00.000Z","error":"Unavailable"}'),
    "deribit": _ok('{"jsonrpc":"2.0","error":{"message":"Invalid params","code":-32602},"testnet":false}'),
    "phemex": _ok('{"error":{"code":30018,"message":"Invalid symbol"},"id":0,"result":null}'),
    "bitfinex": _ok('["error",10020,"symbol: invalid"]'),
    "cryptocom": _ok(
        '{"id":-1,"method":"public/get-valuations","code":40004,"message":"Missing or invalid argument"}'
    ),
    # No error inside a 200 is known: the venue's documented 4xx error body (illustrative codes).
    "binance": _bad('{"code":-1121,"msg":"Invalid symbol."}'),
    "aster": _bad('{"code":-1121,"msg":"Invalid symbol."}'),
    "gate": _bad('{"label":"INVALID_PARAM_VALUE","message":"Invalid request parameter"}'),
    "dydx": _bad('{"errors":[{"msg":"Invalid value","param":"ticker","location":"query"}]}'),
    "paradex": _bad('{"error":"VALIDATION_ERROR","message":"invalid market"}'),
    "hyperliquid": Reply(422, b'{"error":"Failed to deserialize the JSON body into the target type"}'),
    "coinbaseintl": _bad('{"title":"Bad Request","status":400,"detail":"invalid instrument"}'),
    "backpack": _bad('{"code":"INVALID_CLIENT_REQUEST","message":"Invalid symbol"}'),
}
"""The "envelope" fault per venue ("{now_ms}" is replaced by the current time)."""

REQUIRED_FIELDS: dict[str, str | int] = {
    "aster": "lastFundingRate",
    "backpack": "fundingRate",
    "binance": "lastFundingRate",
    "bingx": "lastFundingRate",
    "bitfinex": 12,  # positional rows: the row is cut before CURRENT_FUNDING, its index
    "bitget": "fundingRate",
    "bitmart": "expected_funding_rate",
    "bybit": "fundingRate",
    "coinbaseintl": "predicted_funding",
    "coinex": "latest_funding_rate",
    "cryptocom": "v",
    "deribit": "funding_8h",
    "dydx": "nextFundingRate",
    "gate": "funding_rate",
    "htx": "funding_rate",
    "hyperliquid": "funding",
    "krakenfutures": "fundingRate",
    "kucoin": "fundingFeeRate",
    "lighter": "rate",
    "mexc": "fundingRate",
    "okx": "fundingRate",
    "paradex": "funding_rate",
    "phemex": "fundingRateRr",
    "woox": "estFundingRate",
}
"""The rate field each venue's parser needs (a key, or for positional rows an index)."""


@dataclass(frozen=True)
class Fault:
    """One venue's fault: each request is faulted with probability `rate`, with one of `kinds`."""

    kinds: tuple[str, ...]
    rate: float = 1.0

    @property
    def text(self) -> str:
        kinds = "mixed" if self.kinds == MIXED else "+".join(self.kinds)
        return kinds if self.rate >= 1 else f"{kinds}@{self.rate:g}"


def parse_fault(text: str) -> Fault:
    """`KIND[+KIND...][@RATE]` (`mixed` = `MIXED`); ValueError names the kinds on a bad one."""
    kinds_text, at, rate_text = text.strip().lower().partition("@")
    kinds: list[str] = []
    for kind in kinds_text.split("+"):
        kind = kind.strip()
        expanded = MIXED if kind == "mixed" else (kind,)
        for one in expanded:
            if one not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; kinds: mixed, {', '.join(FAULT_KINDS)}")
            if one not in kinds:
                kinds.append(one)
    rate = 1.0
    if at:
        try:
            rate = float(rate_text)
        except ValueError:
            raise ValueError(f"fault rate {rate_text!r} is not a number in (0, 1]") from None
        if not 0 < rate <= 1:
            raise ValueError(f"fault rate {rate_text!r} is not a number in (0, 1]")
    return Fault(tuple(kinds), rate)


def check_fault(venue: str, kind: str | None) -> None:
    """Raise ValueError unless `venue` is served (or `all`) and `kind` is a fault text or None."""
    if venue not in VENUES and venue != ALL_VENUES:
        raise ValueError(f"unknown venue {venue!r}; served: {', '.join(VENUES)} (or {ALL_VENUES})")
    if kind is not None:
        parse_fault(kind)


def checked_faults(faults: Mapping[str, str | None] | None) -> dict[str, Fault | None]:
    """{venue: Fault | None} of a {venue: text | None} mapping, validated, `all` expanded first (so
    a venue named beside it overrides it)."""
    result: dict[str, Fault | None] = {}
    items = sorted((faults or {}).items(), key=lambda item: item[0] != ALL_VENUES)
    for venue, kind in items:
        check_fault(venue, kind)
        fault = None if kind is None else parse_fault(kind)
        for one in VENUES if venue == ALL_VENUES else (venue,):
            result[one] = fault
    return result


def draw(fault: Fault | None, seed: int, request: str, seen: int) -> str | None:
    """The kind this request gets, or None. `request` identifies it (venue, method, path,
    parameters), `seen` is how many identical requests came before: a pure function, so a seeded
    run faults the same requests whatever the threads' order."""
    if fault is None:
        return None
    digest = hashlib.blake2b(f"{seed}|{request}|{seen}".encode(), digest_size=16).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u >= fault.rate:
        return None
    return fault.kinds[int.from_bytes(digest[8:], "big") % len(fault.kinds)]


def request_key(venue: str, method: str, path: str, params: Mapping[str, Any]) -> str:
    return f"{venue} {method} {path} {json.dumps(params, sort_keys=True, default=str)}"


def status_reply(
    kind: str, venue: str, over_limit: Reply, *, now_ms: int, retry_after_s: int, ban_s: float
) -> tuple[Reply, list[tuple[str, str]]] | None:
    """The answer of a status fault (with its extra headers); None for other kinds."""
    if kind == "html":
        return HTML_502, []
    if kind == "http500":
        return HTTP_500, []
    if kind == "http503":
        return HTML_503, []
    if kind == "storm":
        return over_limit, [("Retry-After", str(retry_after_s))]
    if kind == "ban":
        body = BAN_BODY.format(until_ms=now_ms + int(ban_s * 1000)).encode()
        return Reply(418, body), [("Retry-After", str(max(1, round(ban_s))))]
    if kind == "envelope":
        reply = ERROR_REPLIES[venue]
        body = reply.body.replace(b"{now_ms}", str(now_ms).encode())
        return Reply(reply.status, body, reply.content_type), []
    return None


def body_reply(kind: str | None, venue: str, recorded: bytes, *, now_ms: int) -> Reply:
    """An HTTP 200 with the recorded body as a body fault changes it (unchanged for other kinds)."""
    if kind == "truncated":
        return Reply(200, recorded[: len(recorded) // 2])
    if kind == "empty":
        return Reply(200, EMPTY_BODIES[venue].replace("{now_ms}", str(now_ms)).encode())
    if kind in ("missing", "renamed"):
        try:
            payload = json.loads(recorded)
        except ValueError:
            return Reply(200, recorded)
        _alter_first_row(payload, REQUIRED_FIELDS[venue], rename=kind == "renamed")
        return Reply(200, json.dumps(payload, separators=(",", ":")).encode())
    return Reply(200, recorded)


def renamed(name: str) -> str:
    """`fundingRate` → `funding_rate`, `funding_rate` → `fundingRate`; a one-word name gets `_v2`."""
    if "_" in name:
        head, *rest = name.split("_")
        return head + "".join(part.capitalize() for part in rest)
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
    return snake if snake != name else f"{name}_v2"


def _alter_first_row(payload: Any, field: str | int, *, rename: bool) -> bool:
    """Remove (or rename) `field` in the first row holding it, depth first; True when one was found.
    For a positional field the first list long enough whose first item is a string (a row keyed by
    its symbol) is cut before that index."""
    if isinstance(payload, dict):
        if isinstance(field, str) and field in payload:
            value = payload.pop(field)
            if rename:
                payload[renamed(field)] = value
            return True
        return any(_alter_first_row(value, field, rename=rename) for value in payload.values())
    if isinstance(payload, list):
        if isinstance(field, int) and len(payload) > field and payload and isinstance(payload[0], str):
            del payload[field:]
            return True
        return any(_alter_first_row(item, field, rename=rename) for item in payload)
    return False
