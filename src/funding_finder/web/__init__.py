"""The web dashboard and JSON API: a Flask app that reads the store and never writes it.

`create_app(db)` is the one entry point (`funding-finder serve` runs it under waitress; a process that
also collects can pass its own `Store` and register more blueprints on the app). Pages are rendered on
the server from Jinja templates; a small script of our own adds countdowns, a quick filter and the
charts (uPlot 1.6.32, the npm package `uplot`'s minified JS and CSS with its MIT licence, vendored in
`static/`). Nothing is loaded from another host, so it works offline.

Security: venue strings are untrusted. Templates autoescape and never mark venue data safe; data for
scripts is embedded with `tojson` inside `<script type="application/json">` (which escapes `<`, `>`,
`&` and `'`); the Content-Security-Policy allows scripts and styles from this origin only, so even an
escaping mistake could not run an inline script. Every query parameter is checked (`params`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from funding_finder.model import strict_json
from funding_finder.store import Store
from funding_finder.web import api, pages, present
from funding_finder.web.data import Reader
from funding_finder.web.params import BadParameter

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class HtmlSafeJSON(DefaultJSONProvider):
    """JSON whose strings carry `<`, `>`, `&` and `'` as `\\u` escapes: the same values once parsed,
    but a venue string can never close a tag if a client pastes an answer into a page; a non-finite
    number is null (`strict_json`), so that every parser reads it."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(strict_json(obj), **kwargs)
        return (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("'", "\\u0027")
        )


def create_app(db: str | Store, **options: Any) -> Flask:
    """The dashboard and API over `db`: a SQLite path or database URL, or an open `Store` (shared with
    a collector in the same process). `options` are Flask settings (`TESTING=True`, ...)."""
    app = Flask(__name__)
    app.json = HtmlSafeJSON(app)
    app.config.update(options)
    store = db if isinstance(db, Store) else Store(db)
    app.extensions["funding_finder"] = Reader(store)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(pages.blueprint)
    present.install(app)
    app.after_request(_security_headers)
    app.register_error_handler(BadParameter, _bad_parameter)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _bad_parameter(error: BadParameter) -> tuple[Response | str, int]:
    if _wants_json():
        body = {"error": "bad_parameter", "parameter": error.name, "message": error.message}
        return jsonify(body), 400
    return render_template("error.html", status=400, message=str(error)), 400


def _http_error(error: HTTPException) -> Response:
    """404, 405 and the like: JSON under /api/, a page elsewhere; the `Allow` header of a 405 is kept."""
    status = error.code or 500
    if _wants_json():
        response = jsonify({"error": error.name.lower().replace(" ", "_"), "message": error.description})
    else:
        response = Response(render_template("error.html", status=status, message=error.description))
    response.status_code = status
    allow = dict(error.get_headers()).get("Allow")
    if allow:
        response.headers["Allow"] = allow
    return response
