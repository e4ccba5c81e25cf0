"""Category attribute schemas: checking a listing's attributes against them.

A schema is a list of ``{"name", "type", "choices", "required", "label"}``
(integers may add ``min``/``max``). Values are checked for type and choice
at every write; `required` is enforced when a listing is published (a draft
may be incomplete). Every message names the attribute it is about.
"""

from __future__ import annotations

from typing import Any

ATTRIBUTE_TYPES = ("string", "integer", "choice", "boolean")
STRING_MAX = 200
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _clean_value(spec: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    """(cleaned value, None) or (None, message) for one attribute."""
    kind = spec.get("type")
    name = spec["name"]
    if kind == "string":
        if not isinstance(value, str):
            return None, f"{name}: expected text."
        value = value.strip()
        if len(value) > STRING_MAX:
            return None, f"{name}: at most {STRING_MAX} characters."
        return value, None
    if kind == "integer":
        # Forms send numbers as text; accept "42" but never 4.2 or True.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"{name}: expected a whole number."
        low, high = spec.get("min"), spec.get("max")
        if low is not None and value < low:
            return None, f"{name}: must be at least {low}."
        if high is not None and value > high:
            return None, f"{name}: must be at most {high}."
        return value, None
    if kind == "choice":
        choices = spec.get("choices") or []
        if not isinstance(value, str) or value not in choices:
            return None, f"{name}: must be one of {', '.join(map(str, choices))}."
        return value, None
    if kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            return None, f"{name}: expected true or false."
        return value, None
    return None, f"{name}: this attribute has an unknown type {kind!r}."


def clean_attributes(schema: list[dict[str, Any]], values: Any, *, category_slug: str
                     ) -> tuple[dict[str, Any], list[str]]:
    """Check `values` against `schema` (types, choices, no unknown names).

    Returns (cleaned values, messages). Empty strings and nulls mean "not
    given" and are dropped, so a form can clear an optional attribute.
    """
    if values is None:
        return {}, []
    if not isinstance(values, dict):
        return {}, ["Expected an object of attribute names to values."]
    specs = {spec["name"]: spec for spec in schema}
    cleaned: dict[str, Any] = {}
    errors: list[str] = []
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs) or "none"
            errors.append(
                f"{name}: not an attribute of category {category_slug} (known: {known})."
            )
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        result, message = _clean_value(spec, value)
        if message:
            errors.append(message)
        else:
            cleaned[name] = result
    return cleaned, errors


def missing_required(schema: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    """Messages for required attributes without a value (checked at publish)."""
    return [
        f"{spec['name']}: required for this category."
        for spec in schema
        if spec.get("required") and values.get(spec["name"]) in (None, "")
    ]
