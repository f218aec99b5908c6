"""Test doubles: a fake clock whose sleep advances time instead of waiting, a scripted HTTP server,
a webhook receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeClock:
    """Monotonic seconds that only move when someone sleeps; thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


class ScriptedServer:
    """A loopback HTTP server answering from a script of (status, headers, body, delay_s) per request.

    The last answer repeats once the script runs out; `routes` instead answers by the request path's
    ending (query excluded). `seen` keeps every request's path and headers.
    """

    def __init__(
        self,
        answers: list[tuple[int, dict[str, str], bytes, float]] | None = None,
        routes: dict[str, tuple[int, dict[str, str], bytes, float]] | None = None,
    ) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answers = list(answers or [])
        self.routes = routes or {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                import time

                server.seen.append((self.path, dict(self.headers)))
                status, headers, body, delay_s = server.answer_for(self.path)
                time.sleep(delay_s)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def answer_for(self, path: str) -> tuple[int, dict[str, str], bytes, float]:
        if self.routes:
            bare = path.split("?", 1)[0]
            for ending, answer in self.routes.items():
                if bare.endswith(ending):
                    return answer
            return (404, {}, b"no route", 0.0)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class VirtualClock:
    """Virtual seconds shared by a known number of threads: a `sleep` blocks until every participant
    is asleep (or done), then time jumps to the earliest wake-up. Threads waiting on a lock are not
    asleep, so time never moves while one of them still has work to do at the current instant.

    Each participant calls `done()` when it ends. `sleeps` counts the sleeps per thread name.
    """

    def __init__(self, participants: int, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: dict[str, int] = {}
        self._active = participants
        self._wakes: dict[int, float] = {}
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        name = threading.current_thread().name
        with self._cond:
            self.sleeps[name] = self.sleeps.get(name, 0) + 1
            target = self.now + max(0.0, seconds)
            self._wakes[me] = target
            self._advance()
            while self.now < target:
                if not self._cond.wait(timeout=10):
                    raise RuntimeError("virtual clock stuck: a participant neither sleeps nor ends")
            del self._wakes[me]

    def done(self) -> None:
        with self._cond:
            self._active -= 1
            self._advance()

    def _advance(self) -> None:
        if self._wakes and len(self._wakes) >= self._active:
            self.now = max(self.now, min(self._wakes.values()))
            self._cond.notify_all()


class Receiver:
    """A webhook on 127.0.0.1 keeping every JSON body posted; answers `status` (settable)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posted: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posted.append(
                    {"content_type": self.headers["Content-Type"], "path": self.path, **json.loads(body)}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
