"""Money: an integer number of minor units plus an ISO 4217 currency code.

Integers (fen, cents, yen) make sums, fees and ledger balances exact; floats
never touch an amount. Every operation refuses to mix currencies, because a
silent CNY + USD is a bug that only shows up in the ledger weeks later.

Pure Python on purpose: models, serializers, services and tasks all import it,
so it must not pull in Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CURRENCIES",
    "MAX_AMOUNT_MINOR",
    "CurrencyMismatch",
    "InvalidAmount",
    "Money",
    "MoneyError",
    "Rounding",
    "UnknownCurrency",
    "currency_exponent",
]


class MoneyError(ValueError):
    """Base for every money error, so API code can turn them all into a 400."""


class CurrencyMismatch(MoneyError):
    """Two amounts in different currencies were combined or compared."""


class InvalidAmount(MoneyError):
    """An amount is of the wrong type, out of range, or could not be parsed."""


class UnknownCurrency(MoneyError):
    """A currency code that is not in the supported table."""


#: Supported ISO 4217 codes and their minor-unit exponent (digits after the point).
CURRENCIES: Mapping[str, int] = MappingProxyType(
    {
        "AED": 2,
        "AUD": 2,
        "BHD": 3,
        "BRL": 2,
        "CAD": 2,
        "CHF": 2,
        "CLP": 0,
        "CNY": 2,
        "CZK": 2,
        "DKK": 2,
        "EUR": 2,
        "GBP": 2,
        "HKD": 2,
        "HUF": 2,
        "IDR": 2,
        "ILS": 2,
        "INR": 2,
        "ISK": 0,
        "JOD": 3,
        "JPY": 0,
        "KRW": 0,
        "KWD": 3,
        "MOP": 2,
        "MXN": 2,
        "MYR": 2,
        "NOK": 2,
        "NZD": 2,
        "OMR": 3,
        "PHP": 2,
        "PLN": 2,
        "SAR": 2,
        "SEK": 2,
        "SGD": 2,
        "THB": 2,
        "TRY": 2,
        "TWD": 2,
        "USD": 2,
        "VND": 0,
        "ZAR": 2,
    }
)

#: Largest magnitude we accept: it has to fit a PostgreSQL ``bigint`` column.
MAX_AMOUNT_MINOR: int = 2**63 - 1

Rounding = Literal["half_up", "half_even", "down", "up"]

_BASIS_POINTS_PER_UNIT = 10_000
_MAX_PARSE_LENGTH = 64
_MAX_DECIMAL_DIGITS = 40
# ASCII digits only: "\d" would also accept Arabic-Indic or full-width digits.
_AMOUNT_RE = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency``; UnknownCurrency if unsupported."""
    if not isinstance(currency, str):
        raise UnknownCurrency(f"currency must be a string code such as 'CNY', got {currency!r}")
    try:
        return CURRENCIES[currency]
    except KeyError:
        hint = " (codes are upper case)" if currency.upper() in CURRENCIES else ""
        raise UnknownCurrency(f"unsupported currency {currency!r}{hint}") from None


def _is_int(value: object) -> bool:
    """True for real integers; bool is an int subclass but never an amount."""
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal_to_minor(value: Decimal, currency: str, shown: object) -> int:
    """Exact Decimal -> minor units with integer arithmetic, refusing to round."""
    if not value.is_finite():
        raise InvalidAmount(f"{shown!r} is not a finite amount")
    exponent = currency_exponent(currency)
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)  # finite decimals always have an int exponent
    if len(digits) > _MAX_DECIMAL_DIGITS:
        raise InvalidAmount(f"{shown!r} has too many digits")
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        return 0
    shift = exp + exponent
    if shift >= 0:
        if shift > _MAX_DECIMAL_DIGITS:
            raise InvalidAmount(f"{shown!r} is too large")
        minor = coefficient * 10**shift
    else:
        if -shift > len(digits):
            minor, remainder = 0, coefficient
        else:
            minor, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            raise InvalidAmount(
                f"{shown!r} has more decimal places than {currency} allows ({exponent})"
            )
    return -minor if sign else minor


def _round_div(numerator: int, denominator: int, rounding: Rounding) -> int:
    """Integer division with an explicit rounding rule, symmetric around zero."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if rounding == "half_up":
        if 2 * remainder >= denominator:
            quotient += 1
    elif rounding == "half_even":
        if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
            quotient += 1
    elif rounding == "up":
        if remainder:
            quotient += 1
    elif rounding != "down":
        raise ValueError(f"unknown rounding {rounding!r}")
    return -quotient if numerator < 0 else quotient


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``amount_minor`` minor units (fen, cents, yen) of ``currency``."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not _is_int(self.amount_minor):
            raise InvalidAmount(
                "amount_minor must be an int number of minor units, got "
                f"{type(self.amount_minor).__name__} {self.amount_minor!r}"
            )
        currency_exponent(self.currency)
        if abs(self.amount_minor) > MAX_AMOUNT_MINOR:
            raise InvalidAmount(f"amount {self.amount_minor} is out of range")

    # -- construction -------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in ``currency``; the start value for sums."""
        return cls(0, currency)

    @classmethod
    def total(cls, values: Iterable[Money], currency: str) -> Money:
        """Sum of ``values``; needs a currency because an empty sum has none."""
        result = cls.zero(currency)
        for value in values:
            result = result + value
        return result

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse user input in major units ("1,234.56", "-3.10"); never rounds.

        Only plain decimal notation is accepted: no exponents, NaN, symbols or
        more decimals than the currency has, so what the user typed is exactly
        what gets stored.
        """
        if not isinstance(text, str):
            raise InvalidAmount(f"amount must be text, got {type(text).__name__}")
        exponent = currency_exponent(currency)
        cleaned = text.strip()
        if not cleaned:
            raise InvalidAmount("amount is empty")
        if len(cleaned) > _MAX_PARSE_LENGTH or not _AMOUNT_RE.fullmatch(cleaned):
            raise InvalidAmount(f"{text!r} is not an amount; expected something like 1,234.56")
        _, _, fraction = cleaned.partition(".")
        if len(fraction) > exponent:
            raise InvalidAmount(
                f"{text!r} has more decimal places than {currency} allows ({exponent})"
            )
        try:
            value = Decimal(cleaned.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the regex already vetted it
            raise InvalidAmount(f"{text!r} is not an amount") from None
        return cls(_decimal_to_minor(value, currency, text), currency)

    @classmethod
    def from_major(cls, value: int | str | Decimal, currency: str) -> Money:
        """Build from major units (yuan, dollars); refuses floats and inexact values.

        Strings go through :meth:`parse`; a Decimal must be exactly representable
        in the currency's minor unit (``Decimal("12.500")`` is fine for CNY,
        ``Decimal("12.345")`` is not).
        """
        if isinstance(value, str):
            return cls.parse(value, currency)
        if isinstance(value, Decimal):
            return cls(_decimal_to_minor(value, currency, value), currency)
        if _is_int(value):
            return cls(value * 10 ** currency_exponent(currency), currency)
        raise InvalidAmount(
            f"major amount must be int, str or Decimal, got {type(value).__name__} {value!r}"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Money:
        """Inverse of :meth:`to_dict`, strict about keys and types (it reads JSON)."""
        if not isinstance(data, Mapping):
            raise InvalidAmount(f"money must be an object, got {type(data).__name__}")
        expected = {"amount_minor", "currency"}
        missing = expected - data.keys()
        if missing:
            raise InvalidAmount(f"money is missing {', '.join(sorted(missing))}")
        extra = set(data.keys()) - expected
        if extra:
            raise InvalidAmount(f"money has unexpected keys {', '.join(sorted(map(str, extra)))}")
        amount = data["amount_minor"]
        currency = data["currency"]
        if not _is_int(amount):
            raise InvalidAmount(
                f"amount_minor must be an integer, got {type(amount).__name__} {amount!r}"
            )
        if not isinstance(currency, str):
            raise UnknownCurrency(f"currency must be a string, got {type(currency).__name__}")
        return cls(amount, currency)

    # -- views --------------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Digits after the decimal point in this currency (2 for CNY, 0 for JPY)."""
        return CURRENCIES[self.currency]

    def to_dict(self) -> dict[str, int | str]:
        """JSON-safe form; minor units as an int so no client ever sees a float."""
        return {"amount_minor": self.amount_minor, "currency": self.currency}

    def amount_major_str(self) -> str:
        """Plain major-unit string with exactly ``exponent`` decimals: "1234.50"."""
        exponent = self.exponent
        sign = "-" if self.amount_minor < 0 else ""
        whole, fraction = divmod(abs(self.amount_minor), 10**exponent)
        if exponent == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.amount_major_str()} {self.currency}"

    def format(self, locale: str = "en") -> str:
        """Human display ("¥1,234.50", "1.234,50 €"); use ``str()`` for logs and machines."""
        style = _locale_style(locale)
        exponent = self.exponent
        whole, fraction = divmod(abs(self.amount_minor), 10**exponent)
        number = _group(whole, style.group)
        if exponent:
            number += f"{style.decimal}{fraction:0{exponent}d}"
        sign = "-" if self.amount_minor < 0 else ""
        symbol = style.symbols.get(self.currency)
        if style.symbol_first:
            prefix = symbol if symbol is not None else f"{self.currency}\u00a0"
            return f"{sign}{prefix}{number}"
        return f"{sign}{number}\u00a0{symbol if symbol is not None else self.currency}"

    # -- arithmetic ---------------------------------------------------------

    def _same_currency(self, other: Money, operation: str) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot {operation} {self.currency} and {other.currency} amounts"
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.amount_minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if not _is_int(factor):
            raise TypeError(
                f"Money can only be multiplied by an int, not {type(factor).__name__}; "
                "use percent() or allocate() for fractions"
            )
        return Money(self.amount_minor * factor, self.currency)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.amount_minor != 0

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount_minor < other.amount_minor

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount_minor >= other.amount_minor

    # -- splitting ----------------------------------------------------------

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split by integer ratios without losing a minor unit (largest remainder).

        The parts always sum to ``self``; leftover units go to the parts with the
        largest remainders, earlier parts first on ties, so the result is
        deterministic. A negative amount is split like its absolute value.
        """
        if not ratios:
            raise ValueError("allocate() needs at least one ratio")
        if any(not _is_int(r) or r < 0 for r in ratios):
            raise ValueError(f"ratios must be non-negative ints, got {list(ratios)!r}")
        total = sum(ratios)
        if total == 0:
            raise ValueError("ratios must not all be zero")
        amount = abs(self.amount_minor)
        shares = [divmod(amount * r, total) for r in ratios]
        parts = [share for share, _ in shares]
        leftover = amount - sum(parts)
        by_remainder = sorted(range(len(ratios)), key=lambda i: (-shares[i][1], i))
        for index in by_remainder[:leftover]:
            parts[index] += 1
        sign = -1 if self.amount_minor < 0 else 1
        return [Money(sign * part, self.currency) for part in parts]

    def percent(self, basis_points: int, rounding: Rounding = "half_up") -> Money:
        """``basis_points``/10000 of this amount (250 bp = 2.5 %), in integers only.

        ``half_up`` rounds halves away from zero, so a refund of a fee is the
        exact negative of the fee.
        """
        if not _is_int(basis_points):
            raise TypeError(f"basis_points must be an int, not {type(basis_points).__name__}")
        minor = _round_div(self.amount_minor * basis_points, _BASIS_POINTS_PER_UNIT, rounding)
        return Money(minor, self.currency)


@dataclass(frozen=True, slots=True)
class _LocaleStyle:
    decimal: str
    group: str
    symbol_first: bool
    symbols: Mapping[str, str]


_EN_SYMBOLS: Mapping[str, str] = MappingProxyType(
    {
        "AUD": "A$",
        "CAD": "CA$",
        "CNY": "¥",
        "EUR": "€",
        "GBP": "£",
        "HKD": "HK$",
        "INR": "₹",
        "JPY": "¥",
        "KRW": "₩",
        "TWD": "NT$",
        "USD": "$",
    }
)
_ZH_SYMBOLS: Mapping[str, str] = MappingProxyType(
    {
        "CNY": "¥",
        "EUR": "€",
        "GBP": "£",
        "HKD": "HK$",
        "JPY": "JP¥",
        "KRW": "₩",
        "TWD": "NT$",
        "USD": "US$",
    }
)
_EU_SYMBOLS: Mapping[str, str] = MappingProxyType(
    {"CNY": "CN¥", "EUR": "€", "GBP": "£", "JPY": "¥", "USD": "$"}
)

# A small hand-kept table (CLDR-like); Babel would be overkill for a handful of
# locales. Non-breaking spaces keep the number and its symbol on one line.
_LOCALE_STYLES: Mapping[str, _LocaleStyle] = MappingProxyType(
    {
        "en": _LocaleStyle(".", ",", True, _EN_SYMBOLS),
        "zh": _LocaleStyle(".", ",", True, _ZH_SYMBOLS),
        "de": _LocaleStyle(",", ".", False, _EU_SYMBOLS),
        "fr": _LocaleStyle(",", "\u202f", False, _EU_SYMBOLS),
    }
)


def _locale_style(locale: str) -> _LocaleStyle:
    """Pick the style by language ("zh-Hans", "de_DE" -> "zh", "de"); default English."""
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    return _LOCALE_STYLES.get(language, _LOCALE_STYLES["en"])


def _group(number: int, separator: str) -> str:
    """Thousands grouping of a non-negative int: 1234567 -> "1,234,567"."""
    return f"{number:,}".replace(",", separator)
