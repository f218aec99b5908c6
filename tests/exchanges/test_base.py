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


def test_interval_hours_strict_makes_a_non_positive_interval_a_malformed_row():
    from funding_finder.exchanges.base import interval_hours

    assert interval_hours(28800, 1, strict=True) == 8 and interval_hours("", 1, strict=True) is None
    for bad in (0, "-3600"):
        with pytest.raises(ValueError):
            interval_hours(bad, 1, strict=True)


def test_code_envelope_can_require_an_object():
    check_object = code_envelope("code", ("0",), require_object=True)
    check_object("v", "e", {"code": "0"})
    with pytest.raises(BadPayload, match="expected an object with code, got list"):
        check_object("v", "e", [])


def test_code_envelope_reads_the_error_code_beside_a_status():
    status = code_envelope(
        "status",
        ("ok",),
        message_fields=("err-msg",),
        rate_limit_codes=(1032,),
        error_code_fields=("err-code",),
    )
    status("v", "e", {"status": "ok"})
    with pytest.raises(ExchangeError, match=r"v e: status error, err-code 1014: x$"):
        status("v", "e", {"status": "error", "err-code": 1014, "err-msg": "x"})
    with pytest.raises(RateLimited, match="err-code 1032"):  # a limit is one before anything else
        status("v", "e", {"err-code": "1032"})
    with pytest.raises(BadPayload):
        status("v", "e", {"err-code": 1014})


def test_error_body_envelope_raises_for_the_error_object_and_passes_the_rest():
    from funding_finder.exchanges.base import error_body_envelope

    check_body = error_body_envelope(
        "code", rate_limit_codes=("TOO_MANY",), rate_limit_phrases=("Slow Down",)
    )
    check_body("v", "e", [{"code": "BTC"}])
    check_body("v", "e", {"results": [], "code": None})
    with pytest.raises(ExchangeError, match=r"v e: code BAD: bad symbol$") as raised:
        check_body("v", "e", {"code": "BAD", "msg": "bad symbol"})
    assert not isinstance(raised.value, RateLimited)
    for limited in ({"code": "TOO_MANY"}, {"code": "X", "message": "please slow down"}):
        with pytest.raises(RateLimited):
            check_body("v", "e", limited)
    negative = error_body_envelope("code", is_error=lambda code: isinstance(code, int) and code < 0)
    negative("v", "e", {"code": 200})
    with pytest.raises(ExchangeError):
        negative("v", "e", {"code": -1121})


def test_split_by_quote_tries_the_suffixes_in_order():
    from funding_finder.exchanges.base import split_by_quote

    assert split_by_quote("BTCUSDT", ("USDT", "USD")) == ("BTC", "USDT")
    assert split_by_quote("BTCUSD", ("USDT", "USD")) == ("BTC", "USD")
    assert split_by_quote("BTCPERP", {"USDT": "USDT", "PERP": "USDC"}) == ("BTC", "USDC")
    for bad in ("USDT", "BTCEUR", ""):
        with pytest.raises(ValueError):
            split_by_quote(bad, ("USDT", "USD"))


def test_a_usd_quote_is_inverse_and_settles_in_the_base():
    from funding_finder.exchanges.base import settle_and_type

    assert settle_and_type("BTC", "USD") == ("BTC", "inverse")
    assert settle_and_type("BTC", "USDT") == ("USDT", "linear")


def test_hours_between_two_settlements():
    from funding_finder.exchanges.base import hours_between

    assert hours_between(1_783_180_800_000, 1_783_209_600_000) == 8
    assert hours_between(None, 1) is None and hours_between(5, 5) is None and hours_between(6, 5) is None


def test_caps_by_symbol_skips_rows_without_a_name_or_a_bound():
    from funding_finder.exchanges.base import caps_by_symbol

    rows = [{"symbol": "A", "cap": "0.02", "floor": "-0.03"}, {"symbol": "B", "cap": "x"}, {"cap": 1}, "junk"]
    assert caps_by_symbol(rows, "cap", "floor") == {"A": 0.03}
    assert caps_by_symbol({"symbol": "A"}, "cap") == {}


def test_build_families_keeps_the_good_families_and_names_the_bad():
    from funding_finder.errors import EmptyPayload
    from funding_finder.exchanges.base import BuildResult, build_families

    def build_one(family: str, payload):
        if payload == []:
            raise EmptyPayload("v", family, "no rows")
        if not isinstance(payload, list):
            raise BadPayload("v", family, "not a list")
        return BuildResult(list(payload), bad_rows=1, unusable={f"{family}-list"})

    families = {"linear": "linear", "inverse": "inverse"}
    none = BadPayload("v", "linear", "nothing answered")
    result = build_families({"linear": ["row"], "inverse": {"x": 1}}, families, build_one, none)
    assert (result.rows, result.bad_rows, result.unusable) == (["row"], 1, {"inverse", "linear-list"})
    with pytest.raises(BadPayload, match="nothing answered"):
        build_families({"linear": None}, families, build_one, none)
    with pytest.raises(EmptyPayload):  # no family with rows: the first family's error
        build_families({"linear": [], "inverse": "x"}, families, build_one, none)
    nothing_kept = build_families({"linear": ["dropped"]}, families, lambda f, p: BuildResult([]), none)
    assert (nothing_kept.rows, nothing_kept.unusable) == ([], set())  # no error: an empty result
