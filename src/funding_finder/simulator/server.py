"""The simulator's HTTP server: one thread per connection, venues under /<venue>, control under /_sim.

A request is counted against its venue's limits at arrival (when its request line has been read),
then waits the configured latency, then gets its answer: an injected fault, the venue's over-limit
error, the recorded bytes, the venue's own "not found" answer, or a 404 naming venue and path.

Control endpoints: GET /_sim/stats, POST /_sim/reset (counts and windows), GET|POST /_sim/faults
(body {"venue": "kind[+kind][@rate]" | null, ...}, see `faults`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from funding_finder.recordings import load_bytes
from funding_finder.simulator import faults as fault_kinds
from funding_finder.simulator.faults import Fault, check_fault, checked_faults
from funding_finder.simulator.latency import Latency
from funding_finder.simulator.limits import LIMITS, VenueLimits
from funding_finder.simulator.routes import (
    HANDLERS,
    ROUTES,
    VENUES,
    Reply,
    find_fallback,
    find_handler,
    find_route,
)
from funding_finder.simulator.scale import scaled
from funding_finder.simulator.window import Limiter

_POLL_S = 0.05  # how often the serving loop notices stop()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pooled requests.Session expects
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def version_string(self) -> str:
        return "funding-finder-simulator"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def parse_request(self) -> bool:
        self.arrival = self.server.sim.clock()  # the request line has just been read
        return super().parse_request()

    def do_GET(self) -> None:
        self.server.sim.handle(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log: the stats are the record

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, reply: Reply, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_head(reply, headers)
        self.wfile.write(reply.body)

    def send_head(self, reply: Reply, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Status line and headers; `Content-Length` is the whole body's, even when less follows."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed proxy does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hanging answer never holds up shutdown
    allow_reuse_address = True
    # The stdlib default backlog of 5 drops the SYNs of a burst of new connections; the kernel
    # retries them a second later, so they would arrive bunched with the next window's calls.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError) or self.sim.stopping:
            return  # the client went away, or we are shutting down
        super().handle_error(request, client_address)


def _new_venue_stats() -> dict[str, Any]:
    """`first_arrival_s` / `last_arrival_s`: the simulator clock at the venue's first and last request."""
    return {
        "requests": 0,
        "violations": 0,
        "rejected": 0,
        "faults": 0,
        "faults_by_kind": {},
        "by_endpoint": {},
        "first_arrival_s": None,
        "last_arrival_s": None,
    }


class Simulator:
    """A local server answering at each venue's real API paths with recorded responses.

    `latency_ms`: None = log-normal around 150 ms, 0 = no delay, a number = log-normal around that
    median (`latency_sigma` 0 makes it fixed). `faults`: {venue: "kind[+kind][@rate]"} (see `faults`;
    `seed` also seeds which requests a fault rate picks). `hang_s`: delay of "hang" and "stall";
    `drip_s`: duration of a "drip" answer; `storm_retry_after_s`: the Retry-After of "storm";
    `ban_s`: ban length named by "ban". `clock`: arrival clock in seconds (monotonic). `limits`:
    the limits table (tests shrink it).
    `scale`: {venue: contracts}, recordings grown with synthetic clones (`simulator.scale`); none by default.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float | None = None,
        faults: Mapping[str, str | None] | None = None,
        seed: int | None = None,
        *,
        hang_s: float = 30.0,
        drip_s: float = 2.0,
        storm_retry_after_s: int = 1,
        ban_s: float = 2.0,
        latency_sigma: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        limits: Mapping[str, VenueLimits] = LIMITS,
        scale: Mapping[str, int] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.hang_s, self.drip_s = hang_s, drip_s
        self.storm_retry_after_s, self.ban_s = storm_retry_after_s, ban_s
        self.clock = clock
        self._latency = Latency(latency_ms, latency_sigma, seed)
        self._fault_seed = seed or 0
        self._faults: dict[str, Fault] = {}
        for venue, fault in checked_faults(faults).items():
            if fault is not None:
                self._faults[venue] = fault
        self._limits = limits
        self._limiter = Limiter(limits)
        self._recordings = {key: load_bytes(key.venue, name) for key, name in ROUTES.items()}
        self.scale = dict(scale or {})
        self._recordings, self._handlers = scaled(self._recordings, HANDLERS, self.scale)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> Simulator:
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._stopped.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL_S,), name="simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopped.set()  # wakes every request waiting out a latency or a hang
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopped.is_set()

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def venue_url(self, venue: str) -> str:
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; served: {', '.join(VENUES)}")
        return f"{self.url}/{venue}"

    @property
    def venues(self) -> tuple[str, ...]:
        return VENUES

    # -- state ---------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._lock:
            venues = {
                v: {**s, "by_endpoint": dict(s["by_endpoint"]), "faults_by_kind": dict(s["faults_by_kind"])}
                for v, s in self._stats.items()
            }
            unrouted = self._unrouted
        return {
            "venues": venues,
            "total_requests": sum(s["requests"] for s in venues.values()),
            "total_violations": sum(s["violations"] for s in venues.values()),
            "unrouted": unrouted,
        }

    def reset(self) -> None:
        """Clear the counts, the limit windows and the fault draws' history (faults stay as set)."""
        with self._lock:
            self._stats = {venue: _new_venue_stats() for venue in VENUES}
            self._unrouted = 0
            self._seen: dict[str, int] = {}
        self._limiter.reset()

    def set_fault(self, venue: str, kind: str | None) -> None:
        """Set `venue`'s fault ("kind[+kind][@rate]", see `faults`; venue `all` for every venue);
        None clears it."""
        check_fault(venue, kind)
        with self._lock:
            for one, fault in checked_faults({venue: kind}).items():
                if fault is None:
                    self._faults.pop(one, None)
                else:
                    self._faults[one] = fault

    @property
    def faults(self) -> dict[str, str]:
        with self._lock:
            return {venue: fault.text for venue, fault in self._faults.items()}

    # -- requests ------------------------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        method = handler.command
        split = urlsplit(handler.path)
        body = handler.read_body()
        if split.path.startswith("/_sim/"):
            handler.reply(self._control(method, split.path, body))
            return
        venue, _, rest = split.path.lstrip("/").partition("/")
        path = "/" + rest
        if venue not in VENUES:
            with self._lock:
                self._unrouted += 1
            handler.reply(Reply(404, _json({"error": "unknown venue", "venue": venue, "path": split.path})))
            return
        params = _params(method, split.query, body)
        client = handler.client_address[0]
        admission = self._limiter.admit(venue, method, path, params, client, handler.arrival)
        request = fault_kinds.request_key(venue, method, path, params)
        fault = self._count(venue, path, admission.accepted, request, handler.arrival)
        if fault == "hang":
            self._stopped.wait(self.hang_s)
        self._stopped.wait(self._latency.draw())
        if self.stopping or fault == "drop":
            handler.close_connection = True
            return
        faulted = self._status_fault(venue, fault)
        if faulted is not None:
            handler.reply(*faulted)
            return
        headers = list(admission.headers.items())
        if not admission.accepted:
            over = self._limits[venue].over_limit
            if over.retry_after:
                headers.append(("Retry-After", str(admission.retry_after_s)))
            handler.reply(Reply(over.status, over.body(admission.pool), over.content_type), headers)
            return
        reply = self._answer(venue, method, path, split.query, params, fault)
        if fault in ("reset", "stall", "drip"):
            self._send_faulty(handler, reply, headers, fault)
        else:
            handler.reply(reply, headers)

    def _count(self, venue: str, path: str, accepted: bool, request: str, arrival: float) -> str | None:
        """Record one request of `venue`; return the fault kind it gets, if any (see `faults.draw`)."""
        with self._lock:
            stats = self._stats[venue]
            stats["requests"] += 1
            stats["by_endpoint"][path] = stats["by_endpoint"].get(path, 0) + 1
            stats["violations"] += not accepted
            if stats["first_arrival_s"] is None:
                stats["first_arrival_s"] = arrival
            stats["last_arrival_s"] = max(arrival, stats["last_arrival_s"] or arrival)
            seen = self._seen.get(request, 0)
            self._seen[request] = seen + 1
            fault = fault_kinds.draw(self._faults.get(venue), self._fault_seed, request, seen)
            if fault is not None:
                stats["faults"] += 1
                stats["faults_by_kind"][fault] = stats["faults_by_kind"].get(fault, 0) + 1
        return fault

    def _status_fault(self, venue: str, fault: str | None) -> tuple[Reply, list[tuple[str, str]]] | None:
        if fault not in fault_kinds.STATUS_KINDS:
            return None
        limits = self._limits[venue]
        over = limits.over_limit
        return fault_kinds.status_reply(
            fault,
            venue,
            Reply(over.status, over.body(limits.pools[0]), over.content_type),
            now_ms=int(time.time() * 1000),
            retry_after_s=self.storm_retry_after_s,
            ban_s=self.ban_s,
        )

    def _send_faulty(
        self, handler: _Handler, reply: Reply, headers: list[tuple[str, str]], fault: str
    ) -> None:
        """ "reset": half the body then a RST; "stall": half, `hang_s` of silence, the rest;
        "drip": the body in `DRIP_PIECES` pieces over `drip_s`."""
        body = reply.body
        handler.send_head(reply, headers)
        if fault == "drip":
            step = max(1, -(-len(body) // fault_kinds.DRIP_PIECES))
            for start in range(0, len(body), step):
                handler.wfile.write(body[start : start + step])
                if self._stopped.wait(self.drip_s / fault_kinds.DRIP_PIECES):
                    break
            return
        handler.wfile.write(body[: len(body) // 2])
        if fault == "reset":
            handler.reset()
            return
        if not self._stopped.wait(self.hang_s):
            handler.wfile.write(body[len(body) // 2 :])

    def _answer(
        self, venue: str, method: str, path: str, query: str, params: Mapping[str, Any], fault: str | None
    ) -> Reply:
        handler = find_handler(venue, method, path, self._handlers)
        computed = handler(params) if handler is not None else None
        if computed is not None and computed.status != 200:
            return computed
        route = None if computed is not None else find_route(venue, method, path, params)
        if computed is not None or route is not None:
            recorded = computed.body if computed is not None else self._recordings[route]
            return fault_kinds.body_reply(fault, venue, recorded, now_ms=int(time.time() * 1000))
        with self._lock:
            self._stats[venue]["rejected"] += 1
        fallback = find_fallback(venue, method, path)
        if fallback is not None:
            return fallback
        detail = {"error": "no recording for this request", "venue": venue, "method": method, "path": path}
        if query:
            detail["query"] = query
        return Reply(404, _json(detail))

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if (method, path) == ("GET", "/_sim/stats"):
            return Reply(200, _json(self.stats()))
        if (method, path) == ("POST", "/_sim/reset"):
            self.reset()
            return Reply(200, _json({"reset": True}))
        if path == "/_sim/faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    requested = json.loads(body or b"{}")
                    if not isinstance(requested, dict):
                        raise ValueError("expected a JSON object {venue: kind | null}")
                    for venue, kind in requested.items():
                        if kind is not None and not isinstance(kind, str):
                            raise ValueError(f"fault of {venue!r} must be a string or null")
                    checked_faults(requested)  # all or nothing
                except ValueError as exc:
                    return Reply(400, _json({"error": str(exc)}))
                for venue, kind in requested.items():
                    self.set_fault(venue, kind)
            return Reply(200, _json({"faults": self.faults}))
        return Reply(404, _json({"error": "unknown control endpoint", "method": method, "path": path}))


def _params(method: str, query: str, body: bytes) -> dict[str, Any]:
    """Query parameters of a GET; top-level fields of a POST's JSON object body (else none)."""
    if method != "POST":
        return dict(parse_qsl(query, keep_blank_values=True))
    try:
        payload = json.loads(body)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
