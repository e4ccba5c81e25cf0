"""Parsing and validating search parameters (query string or saved search)."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from marketplace.errors import ValidationFailed

SORTS = ("relevance", "newest", "price_asc", "price_desc", "distance")
CONDITIONS = ("new", "like_new", "good", "fair", "for_parts")
MAX_WINDOW = 10_000  # from + size beyond this needs the cursor (search_after)
PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
FILTER_KEYS = (
    "q",
    "category",
    "condition",
    "min_price",
    "max_price",
    "lat",
    "lon",
    "radius_km",
    "ships",
    "pickup",
    "sort",
)


@dataclass
class SearchParams:
    q: str = ""
    category: str | None = None
    condition: list[str] = field(default_factory=list)
    min_price: int | None = None
    max_price: int | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    ships: bool | None = None
    pickup: bool | None = None
    sort: str = "relevance"
    page: int = 1
    page_size: int = PAGE_SIZE
    cursor: list[Any] | None = None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None

    def filters(self) -> dict[str, Any]:
        """The parameters that define what matches (what a saved search stores)."""
        data = asdict(self)
        out = {k: data[k] for k in FILTER_KEYS if data[k] not in (None, "", [])}
        if out.get("sort") == "relevance":
            out.pop("sort")
        return out


def _one(data: Any, key: str) -> Any:
    value = data.get(key)
    if isinstance(value, list):
        value = value[-1] if value else None
    return value


def _int(
    data: Any, key: str, errors: dict[str, list[str]], *, minimum: int = 0, maximum: int = 10**15
) -> int | None:
    raw = _one(data, key)
    if raw in (None, ""):
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = int(str(raw))
    except ValueError:
        errors[key] = ["Enter a whole number (minor units, e.g. 12550 for 125.50)."]
        return None
    if not minimum <= value <= maximum:
        errors[key] = [f"Must be between {minimum} and {maximum}."]
        return None
    return value


def _float(
    data: Any, key: str, errors: dict[str, list[str]], low: float, high: float
) -> float | None:
    raw = _one(data, key)
    if raw in (None, ""):
        return None
    try:
        value = float(str(raw))
    except ValueError:
        errors[key] = ["Enter a number."]
        return None
    if not low <= value <= high or value != value:
        errors[key] = [f"Must be between {low:g} and {high:g}."]
        return None
    return value


def _bool(data: Any, key: str, errors: dict[str, list[str]]) -> bool | None:
    raw = _one(data, key)
    if raw in (None, ""):
        return None
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    errors[key] = ["Use true or false."]
    return None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["This cursor is not valid; start again."]}) from None
    if not isinstance(values, list) or not values:
        raise ValidationFailed({"cursor": ["This cursor is not valid; start again."]})
    return values


def parse_search_params(data: Any, *, known_categories: set[str] | None = None) -> SearchParams:
    """Validate a query dict (QueryDict or plain dict) into SearchParams.

    Raises ValidationFailed naming every bad parameter.
    """
    errors: dict[str, list[str]] = {}
    params = SearchParams()
    q = _one(data, "q")
    if q is not None:
        q = str(q).strip()
        if len(q) > 200:
            errors["q"] = ["At most 200 characters."]
        params.q = q[:200]
    category = _one(data, "category")
    if category:
        if known_categories is not None and category not in known_categories:
            errors["category"] = [f"Unknown category '{category}'."]
        params.category = str(category)
    raw_conditions = data.get("condition") if hasattr(data, "get") else None
    if hasattr(data, "getlist"):
        raw_conditions = data.getlist("condition")
    if raw_conditions:
        if isinstance(raw_conditions, str):
            raw_conditions = [raw_conditions]
        conditions = [c for item in raw_conditions for c in str(item).split(",") if c]
        bad = [c for c in conditions if c not in CONDITIONS]
        if bad:
            errors["condition"] = [f"Unknown condition {bad[0]!r}; use {', '.join(CONDITIONS)}."]
        params.condition = sorted(set(conditions) - set(bad))
    params.min_price = _int(data, "min_price", errors)
    params.max_price = _int(data, "max_price", errors)
    if (
        params.min_price is not None
        and params.max_price is not None
        and params.min_price > params.max_price
    ):
        errors["max_price"] = ["Must not be below min_price."]
    params.lat = _float(data, "lat", errors, -90, 90)
    params.lon = _float(data, "lon", errors, -180, 180)
    params.radius_km = _float(data, "radius_km", errors, 0.1, 20_000)
    if (params.lat is None) != (params.lon is None) and "lat" not in errors and "lon" not in errors:
        errors["lat" if params.lat is None else "lon"] = ["Give both lat and lon."]
    if params.radius_km is not None and not params.has_point:
        errors.setdefault("radius_km", ["A radius needs lat and lon."])
    params.ships = _bool(data, "ships", errors)
    params.pickup = _bool(data, "pickup", errors)
    sort = _one(data, "sort") or "relevance"
    if sort not in SORTS:
        errors["sort"] = [f"Use one of {', '.join(SORTS)}."]
    elif sort == "distance" and not params.has_point:
        errors["sort"] = ["Sorting by distance needs lat and lon."]
    params.sort = sort if sort in SORTS else "relevance"
    params.page = _int(data, "page", errors, minimum=1, maximum=MAX_WINDOW) or 1
    params.page_size = (
        _int(data, "page_size", errors, minimum=1, maximum=MAX_PAGE_SIZE) or PAGE_SIZE
    )
    if params.page * params.page_size > MAX_WINDOW:
        errors["page"] = [
            f"Pages go up to {MAX_WINDOW} results; follow the `next` link (a cursor) beyond that."
        ]
    cursor = _one(data, "cursor")
    if cursor:
        try:
            params.cursor = decode_cursor(str(cursor))
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    return params
