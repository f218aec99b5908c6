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


def test_rate_cap_is_the_largest_bound_and_skips_what_is_not_one():
    from funding_finder.exchanges.base import rate_cap

    assert rate_cap("0.0075", "-0.0075") == 0.0075
    assert rate_cap(0.03, -0.05) == 0.05
    assert rate_cap(None, "", "0", "abc") is None  # 0 means no bound; junk never costs the row
    assert rate_cap("0.004", None) == 0.004


def test_interval_hours_reads_each_unit_and_leaves_nonsense_unknown():
    from funding_finder.exchanges.base import interval_hours

    assert interval_hours(28800, 1) == 8  # Gate: seconds
    assert interval_hours("14400000", 0.001) == 4  # KuCoin / Backpack: ms
    assert interval_hours("240", 60) == 4  # Bybit instruments: minutes
    assert interval_hours(1, 3600) == 1  # hours
    assert interval_hours(None, 1) is None and interval_hours("", 1) is None
    assert interval_hours(0, 1) is None and interval_hours(-3600, 1) is None
    with pytest.raises(ValueError):
        interval_hours("eight", 3600)


def test_product_is_unknown_when_a_factor_is():
    from funding_finder.exchanges.base import product

    assert product(292678192, 0.0001, 80307.41) == pytest.approx(292678192 * 0.0001 * 80307.41)
    assert product(5.0, None) is None
