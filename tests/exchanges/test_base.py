"""The helpers every venue module shares."""

import pytest

from funding_finder.errors import BadPayload, ExchangeError, RateLimited
from funding_finder.exchanges.base import code_envelope

check = code_envelope("code", ("00000",), rate_limit_codes=(429, "40010"))


def test_code_envelope_passes_the_ok_code_as_number_or_text():
    check("v", "e", {"code": "00000", "data": []})
    code_envelope("code", (0,))("v", "e", {"code": "0"})
    code_envelope("success", (True,))("v", "e", {"success": True})


def test_code_envelope_names_the_code_and_message_of_an_error():
    with pytest.raises(ExchangeError, match=r"v e: code 400172: Parameter verification failed"):
        check("v", "e", {"code": "400172", "msg": "Parameter verification failed", "data": None})


def test_code_envelope_turns_rate_limit_codes_into_rate_limited():
    for code in (429, "429", 40010):
        with pytest.raises(RateLimited):
            check("v", "e", {"code": code, "message": "Too Many Requests!"})


def test_code_envelope_requires_the_code_in_objects_and_leaves_lists_to_the_parser():
    with pytest.raises(BadPayload):
        check("v", "e", {"data": []})
    check("v", "e", [{"symbol": "BTCUSDT"}])
