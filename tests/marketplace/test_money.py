"""Behaviour of the Money value type: exact, single-currency, no floats."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.money import (
    CURRENCIES,
    MAX_AMOUNT_MINOR,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    MoneyError,
    UnknownCurrency,
)

NBSP = "\u00a0"
NNBSP = "\u202f"

currencies = st.sampled_from(sorted(CURRENCIES))
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money(draw(amounts), currency or draw(currencies))


@st.composite
def same_currency(draw: st.DrawFn, count: int) -> list[Money]:
    currency = draw(currencies)
    return [draw(money(currency)) for _ in range(count)]


# -- properties ---------------------------------------------------------------


@given(same_currency(2))
def test_addition_is_commutative_within_a_currency(pair: list[Money]) -> None:
    a, b = pair
    assert a + b == b + a


@given(same_currency(3))
def test_addition_is_associative_within_a_currency(triple: list[Money]) -> None:
    a, b, c = triple
    assert (a + b) + c == a + (b + c)


@given(money())
def test_adding_the_negation_gives_zero(a: Money) -> None:
    assert a + (-a) == Money.zero(a.currency)
    assert not (a - a)


@given(same_currency(2))
def test_subtraction_is_adding_the_negation(pair: list[Money]) -> None:
    a, b = pair
    assert a - b == a + (-b)


@given(same_currency(2))
def test_ordering_follows_the_amount_within_a_currency(pair: list[Money]) -> None:
    a, b = pair
    assert (a < b) == (a.amount_minor < b.amount_minor)
    assert (a <= b) == (a.amount_minor <= b.amount_minor)
    assert (a > b) == (a.amount_minor > b.amount_minor)
    assert (a >= b) == (a.amount_minor >= b.amount_minor)


@given(money(), st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=20))
def test_allocate_sums_to_the_original_and_stays_near_each_exact_share(
    a: Money, ratios: list[int]
) -> None:
    if sum(ratios) == 0:
        ratios[0] = 1
    total = sum(ratios)
    parts = a.allocate(ratios)
    assert len(parts) == len(ratios)
    assert Money.total(parts, a.currency) == a
    for part, ratio in zip(parts, ratios, strict=True):
        assert part.currency == a.currency
        assert abs(part.amount_minor * total - a.amount_minor * ratio) < total


@given(money(), st.integers(min_value=1, max_value=50))
def test_allocate_in_equal_ratios_gives_parts_differing_by_at_most_one_unit(
    a: Money, n: int
) -> None:
    parts = a.allocate([1] * n)
    assert Money.total(parts, a.currency) == a
    minors = [p.amount_minor for p in parts]
    assert max(minors) - min(minors) <= 1


@given(money())
def test_parse_round_trips_the_major_string_for_every_currency(a: Money) -> None:
    assert Money.parse(a.amount_major_str(), a.currency) == a


@given(money())
def test_parse_accepts_thousands_separators(a: Money) -> None:
    major = a.amount_major_str()
    whole, dot, fraction = major.lstrip("-").partition(".")
    grouped = ("-" if a.amount_minor < 0 else "") + f"{int(whole):,}" + dot + fraction
    assert Money.parse(grouped, a.currency) == a


@given(money())
def test_dict_round_trips_including_through_json(a: Money) -> None:
    assert Money.from_dict(a.to_dict()) == a
    assert Money.from_dict(json.loads(json.dumps(a.to_dict()))) == a


@given(money(), st.integers(min_value=-20_000, max_value=20_000))
def test_percent_is_within_half_a_minor_unit_of_the_exact_value(a: Money, bp: int) -> None:
    fee = a.percent(bp)
    assert fee.currency == a.currency
    assert abs(fee.amount_minor * 10_000 - a.amount_minor * bp) * 2 <= 10_000


@given(money(), st.integers(min_value=0, max_value=10_000))
def test_percent_is_symmetric_for_negative_amounts(a: Money, bp: int) -> None:
    assert (-a).percent(bp) == -a.percent(bp)


@given(money())
def test_equal_money_hashes_equal(a: Money) -> None:
    twin = Money(a.amount_minor, a.currency)
    assert twin == a
    assert hash(twin) == hash(a)
    assert {a: "x"}[twin] == "x"


# -- construction -------------------------------------------------------------


@pytest.mark.parametrize("amount", [1.5, 1.0, Decimal("1"), "100", True, None])
def test_construction_refuses_non_int_amounts(amount: object) -> None:
    with pytest.raises(InvalidAmount, match="amount_minor must be an int"):
        Money(amount, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["XXX", "cny", "RMB", "", "CN", 156, None])
def test_unknown_currency_is_rejected(currency: object) -> None:
    with pytest.raises(UnknownCurrency):
        Money(100, currency)  # type: ignore[arg-type]


def test_lower_case_currency_error_hints_at_upper_case() -> None:
    with pytest.raises(UnknownCurrency, match="upper case"):
        Money(1, "usd")


def test_amount_beyond_bigint_is_rejected() -> None:
    Money(MAX_AMOUNT_MINOR, "CNY")
    with pytest.raises(InvalidAmount, match="out of range"):
        Money(MAX_AMOUNT_MINOR + 1, "CNY")
    with pytest.raises(InvalidAmount):
        Money(MAX_AMOUNT_MINOR, "CNY") + Money(1, "CNY")


def test_money_is_immutable() -> None:
    m = Money(100, "CNY")
    with pytest.raises(AttributeError):
        m.amount_minor = 5  # type: ignore[misc]


def test_errors_are_value_errors_so_callers_can_catch_one_family() -> None:
    assert issubclass(MoneyError, ValueError)
    for error in (CurrencyMismatch, InvalidAmount, UnknownCurrency):
        assert issubclass(error, MoneyError)


def test_zero_is_falsy_and_other_amounts_truthy() -> None:
    assert not Money.zero("EUR")
    assert Money(1, "EUR")
    assert Money(-1, "EUR")


def test_from_major_scales_by_the_currency_exponent() -> None:
    assert Money.from_major(12, "CNY") == Money(1200, "CNY")
    assert Money.from_major(12, "JPY") == Money(12, "JPY")
    assert Money.from_major(12, "KWD") == Money(12_000, "KWD")
    assert Money.from_major("12.5", "USD") == Money(1250, "USD")
    assert Money.from_major(Decimal("12.50"), "EUR") == Money(1250, "EUR")
    assert Money.from_major(Decimal("12.500"), "EUR") == Money(1250, "EUR")
    assert Money.from_major(Decimal("1E+2"), "CNY") == Money(10_000, "CNY")


@pytest.mark.parametrize(
    "value", [12.5, True, Decimal("12.345"), Decimal("NaN"), Decimal("Infinity"), None]
)
def test_from_major_refuses_floats_and_inexact_values(value: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.from_major(value, "CNY")  # type: ignore[arg-type]


# -- arithmetic -----------------------------------------------------------------


def test_mixed_currencies_refuse_to_add_or_subtract() -> None:
    with pytest.raises(CurrencyMismatch, match="CNY and USD"):
        Money(100, "CNY") + Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(100, "CNY") - Money(100, "USD")


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_mixed_currencies_refuse_to_compare(op: str) -> None:
    a, b = Money(100, "CNY"), Money(100, "USD")
    compare = {
        "<": lambda: a < b,
        "<=": lambda: a <= b,
        ">": lambda: a > b,
        ">=": lambda: a >= b,
    }[op]
    with pytest.raises(CurrencyMismatch):
        compare()


def test_equality_needs_same_amount_and_currency() -> None:
    assert Money(100, "CNY") == Money(100, "CNY")
    assert Money(100, "CNY") != Money(100, "USD")
    assert Money(100, "CNY") != Money(101, "CNY")
    assert Money(100, "CNY") != 100


@pytest.mark.parametrize("other", [1, 1.5, Decimal("1")])
def test_adding_plain_numbers_is_a_type_error(other: object) -> None:
    with pytest.raises(TypeError):
        Money(100, "CNY") + other  # type: ignore[operator]
    with pytest.raises(TypeError):
        other + Money(100, "CNY")  # type: ignore[operator]


def test_builtin_sum_needs_an_explicit_start_but_total_works() -> None:
    items = [Money(100, "CNY"), Money(250, "CNY")]
    with pytest.raises(TypeError):
        sum(items)  # type: ignore[arg-type]
    assert sum(items, Money.zero("CNY")) == Money(350, "CNY")
    assert Money.total(items, "CNY") == Money(350, "CNY")
    assert Money.total([], "JPY") == Money.zero("JPY")


def test_multiplication_by_int_scales_the_amount() -> None:
    assert Money(250, "CNY") * 3 == Money(750, "CNY")
    assert 3 * Money(250, "CNY") == Money(750, "CNY")


@pytest.mark.parametrize("factor", [1.5, 2.0, Decimal("2"), True])
def test_multiplication_by_float_or_decimal_is_refused(factor: object) -> None:
    with pytest.raises(TypeError, match="only be multiplied by an int"):
        Money(250, "CNY") * factor  # type: ignore[operator]
    with pytest.raises(TypeError):
        factor * Money(250, "CNY")  # type: ignore[operator]


def test_negation_and_abs() -> None:
    assert -Money(310, "CNY") == Money(-310, "CNY")
    assert abs(Money(-310, "CNY")) == Money(310, "CNY")


# -- percent and allocate -----------------------------------------------------


def test_five_percent_of_one_yuan_one_fen_is_five_fen() -> None:
    assert Money(101, "CNY").percent(500) == Money(5, "CNY")


def test_250_basis_points_of_199_rounds_up_to_5() -> None:
    assert Money(199, "CNY").percent(250) == Money(5, "CNY")


def test_percent_half_rounds_away_from_zero() -> None:
    assert Money(100, "CNY").percent(50) == Money(1, "CNY")  # 0.5 -> 1
    assert Money(-100, "CNY").percent(50) == Money(-1, "CNY")  # -0.5 -> -1
    assert Money(100, "CNY").percent(49) == Money(0, "CNY")  # 0.49 -> 0


def test_percent_other_rounding_modes() -> None:
    assert Money(100, "CNY").percent(50, rounding="half_even") == Money(0, "CNY")
    assert Money(300, "CNY").percent(50, rounding="half_even") == Money(2, "CNY")
    assert Money(199, "CNY").percent(250, rounding="down") == Money(4, "CNY")
    assert Money(101, "CNY").percent(100, rounding="up") == Money(2, "CNY")
    with pytest.raises(ValueError, match="rounding"):
        Money(100, "CNY").percent(50, rounding="banker")  # type: ignore[arg-type]


def test_percent_refuses_fractional_basis_points() -> None:
    with pytest.raises(TypeError):
        Money(100, "CNY").percent(2.5)  # type: ignore[arg-type]


def test_allocate_gives_leftover_units_to_the_first_parts_on_ties() -> None:
    assert Money(100, "CNY").allocate([1, 1, 1]) == [
        Money(34, "CNY"),
        Money(33, "CNY"),
        Money(33, "CNY"),
    ]
    assert Money(-100, "CNY").allocate([1, 1, 1]) == [
        Money(-34, "CNY"),
        Money(-33, "CNY"),
        Money(-33, "CNY"),
    ]
    assert Money(5, "CNY").allocate([3, 7]) == [Money(2, "CNY"), Money(3, "CNY")]
    assert Money(10, "CNY").allocate([0, 1]) == [Money(0, "CNY"), Money(10, "CNY")]


@pytest.mark.parametrize("ratios", [[], [0, 0], [1, -1], [1.5, 1], [True]])
def test_allocate_rejects_bad_ratios(ratios: list[object]) -> None:
    with pytest.raises(ValueError):
        Money(100, "CNY").allocate(ratios)  # type: ignore[arg-type]


# -- parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("12", 1200),
        ("12.5", 1250),
        ("12.50", 1250),
        ("1,234.56", 123456),
        ("1,234,567", 123456700),
        ("-3.10", -310),
        ("  7.05 ", 705),
        ("0", 0),
        ("-0.00", 0),
    ],
)
def test_parse_accepts_plain_decimal_notation(text: str, minor: int) -> None:
    assert Money.parse(text, "CNY") == Money(minor, "CNY")


def test_parse_rejects_more_decimals_than_the_currency_has() -> None:
    with pytest.raises(InvalidAmount, match=r"more decimal places than CNY allows \(2\)"):
        Money.parse("12.345", "CNY")
    with pytest.raises(InvalidAmount, match="JPY"):
        Money.parse("12.0", "JPY")
    assert Money.parse("12.345", "KWD") == Money(12_345, "KWD")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "12abc",
        "1e5",
        "1E5",
        "NaN",
        "nan",
        "Infinity",
        "-",
        ".5",
        "12.",
        "1,23.45",
        "1234,567",
        "12,34",
        "1.234,56",
        "¥12",
        "12 CNY",
        "+-1",
        "--1",
        "１２",  # full-width digits
        "٣",  # Arabic-Indic digit
        "1" * 100,
    ],
)
def test_parse_rejects_garbage_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidAmount, match=r"amount|empty|long|digits"):
        Money.parse(text, "CNY")


def test_parse_rejects_non_text_and_unknown_currency() -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(12.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrency):
        Money.parse("12", "ABC")


def test_parse_rejects_amounts_beyond_bigint() -> None:
    with pytest.raises(InvalidAmount, match="out of range"):
        Money.parse("999999999999999999999", "CNY")


# -- formatting -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "locale", "expected"),
    [
        (Money(123450, "CNY"), "en", "¥1,234.50"),
        (Money(123450, "EUR"), "en", "€1,234.50"),
        (Money(123450, "EUR"), "de", f"1.234,50{NBSP}€"),
        (Money(123450, "EUR"), "de-DE", f"1.234,50{NBSP}€"),
        (Money(123450, "EUR"), "fr", f"1{NNBSP}234,50{NBSP}€"),
        (Money(123450, "USD"), "en", "$1,234.50"),
        (Money(1235, "JPY"), "en", "¥1,235"),
        (Money(-310, "CNY"), "en", "-¥3.10"),
        (Money(-310, "EUR"), "de", f"-3,10{NBSP}€"),
        (Money(5, "CNY"), "en", "¥0.05"),
        (Money(123450, "CNY"), "zh", "¥1,234.50"),
        (Money(123450, "CNY"), "zh-hans", "¥1,234.50"),
        (Money(123450, "CNY"), "zh_CN", "¥1,234.50"),
        (Money(123450, "USD"), "zh", "US$1,234.50"),
        (Money(123450, "USD"), "zh-Hans", "US$1,234.50"),
        (Money(123450, "SEK"), "en", f"SEK{NBSP}1,234.50"),
        (Money(123450, "SEK"), "de", f"1.234,50{NBSP}SEK"),
        (Money(1234567, "KWD"), "en", f"KWD{NBSP}1,234.567"),
        (Money(123450, "USD"), "xx", "$1,234.50"),
    ],
)
def test_format_for_display(m: Money, locale: str, expected: str) -> None:
    assert m.format(locale) == expected


def test_format_defaults_to_english() -> None:
    assert Money(123450, "CNY").format() == "¥1,234.50"


def test_str_is_unambiguous_and_machine_friendly() -> None:
    assert str(Money(123450, "CNY")) == "1234.50 CNY"
    assert str(Money(-310, "USD")) == "-3.10 USD"
    assert str(Money(1235, "JPY")) == "1235 JPY"
    assert str(Money(-5, "CNY")) == "-0.05 CNY"


def test_amount_major_str_pads_to_the_currency_exponent() -> None:
    assert Money(123450, "CNY").amount_major_str() == "1234.50"
    assert Money(7, "KWD").amount_major_str() == "0.007"
    assert Money(0, "JPY").amount_major_str() == "0"


# -- serialization --------------------------------------------------------------


def test_to_dict_shape() -> None:
    assert Money(1250, "CNY").to_dict() == {"amount_minor": 1250, "currency": "CNY"}


@pytest.mark.parametrize(
    "data",
    [
        {"amount_minor": "12", "currency": "CNY"},
        {"amount_minor": 1.5, "currency": "CNY"},
        {"amount_minor": 12.0, "currency": "CNY"},
        {"amount_minor": True, "currency": "CNY"},
        {"amount_minor": None, "currency": "CNY"},
        {"currency": "CNY"},
        {"amount_minor": 12},
        {},
        {"amount_minor": 12, "currency": "CNY", "amount": 12},
        [12, "CNY"],
        "12 CNY",
        None,
    ],
)
def test_from_dict_rejects_bad_input(data: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.from_dict(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"amount_minor": 12, "currency": "XXX"},
        {"amount_minor": 12, "currency": "cny"},
        {"amount_minor": 12, "currency": 156},
    ],
)
def test_from_dict_rejects_unknown_currency(data: dict[str, object]) -> None:
    with pytest.raises(UnknownCurrency):
        Money.from_dict(data)
