"""Injected faults: what a venue (or the proxy in front of it) sends when something goes wrong.

A fault is set per venue and applies to every request of that venue until cleared. Requests are still
counted against the venue's limits first: the client did send them.

- "html": HTTP 502 with an HTML error page (a gateway in front of the venue failed).
- "http500": HTTP 500 with a short JSON body.
- "drop": the connection is closed without any answer.
- "hang": the answer waits `hang_s` (default 30 s), then is given normally.
- "truncated": HTTP 200 with the first half of the recorded body (not valid JSON).
- "empty": HTTP 200 with the venue's envelope around an empty list (see `routes.EMPTY_BODIES`).
"""

from __future__ import annotations

from collections.abc import Mapping

from funding_finder.simulator.routes import VENUES, Reply

FAULT_KINDS: tuple[str, ...] = ("html", "http500", "drop", "hang", "truncated", "empty")

HTML_502 = Reply(
    502,
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    content_type="text/html",
)
HTTP_500 = Reply(500, b'{"error":"Internal Server Error"}')


def check_fault(venue: str, kind: str | None) -> None:
    """Raise ValueError unless `venue` is served and `kind` is a fault kind or None."""
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r}; served: {', '.join(VENUES)}")
    if kind is not None and kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; kinds: {', '.join(FAULT_KINDS)}")


def checked_faults(faults: Mapping[str, str | None] | None) -> dict[str, str]:
    """The set faults of a {venue: kind | None} mapping, validated; None entries are dropped."""
    result = {}
    for venue, kind in (faults or {}).items():
        check_fault(venue, kind)
        if kind is not None:
            result[venue] = kind
    return result
