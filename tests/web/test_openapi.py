"""The API against its OpenAPI document: schemathesis generates requests from the document and checks
every answer (status documented, body matching its schema, no 5xx), in-process against the WSGI app.
The document also names exactly the app's API routes."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from funding_finder.web.api import openapi_document


def test_the_document_names_every_api_route_and_only_those(app):
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert set(openapi_document()["paths"]) == routes
    for path, item in openapi_document()["paths"].items():
        (method,) = item
        assert method == "get" and "200" in item[method]["responses"], path


def test_the_served_document_is_the_package_data(client):
    assert client.get("/api/openapi.json").get_json() == openapi_document()


def test_documented_limits_are_the_enforced_ones(client):
    for path, item in openapi_document()["paths"].items():
        for parameter in item["get"].get("parameters", []):
            maximum = parameter["schema"].get("maximum")
            if parameter["name"] in ("limit", "cycles") and maximum is not None:
                query = "asset=BTC&" if "history" in path else ""
                assert client.get(f"{path}?{query}{parameter['name']}={maximum}").status_code == 200, path
                assert client.get(f"{path}?{query}{parameter['name']}={maximum + 1}").status_code == 400, path


@pytest.mark.parametrize("path", sorted(openapi_document()["paths"]))
def test_every_answer_matches_the_document(app, path):
    """Generated requests for one route (`schemathesis.pytest.from_fixture` reads a pytest-internal
    attribute that pytest 9 dropped, so the operation's strategy is driven by hypothesis directly).

    Every check runs but `positive_data_acceptance`: the routes refuse, with a 400, what a schema
    cannot say is wrong (a venue id the store does not know, history of neither an asset nor a
    contract, `since` not before `until`); test_api.py proves those 400s one by one."""
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", app)[path]["GET"]

    @given(case=operation.as_strategy())
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case):
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    check()
