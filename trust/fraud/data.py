"""Records in and out: validating `fraud_score` lines, importing labelled data.

A listing record is what `fraud_score` reads (API.md)::

    {"title", "description", "price": {"amount_minor", "currency"}, "category",
     "seller": {"account_age_days", "listings_count", "completed_orders"}}

An imported training row is a listing record plus `"label"` (1/true = scam,
0/false = honest) and optionally `"seller_id"` (keeps a seller's rows on one
side of the held-out split), or a chat row `{"text", "label"}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


class RecordError(ValueError):
    """A record that cannot be scored or trained on; the message says why."""


def _nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{name} must be a whole number, got {json.dumps(value)}")
    if value < 0:
        raise RecordError(f"{name} must not be negative")
    return value


def validate_listing(record: Any) -> dict[str, Any]:
    """Check one listing record; return it cleaned (description defaults to "")."""
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise RecordError('"title" must be a non-empty string')
    description = record.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise RecordError('"description" must be a string')
    price = record.get("price")
    if not isinstance(price, dict):
        raise RecordError('"price" must be an object {"amount_minor", "currency"}')
    amount = _nonneg_int(price.get("amount_minor"), "price.amount_minor")
    currency = price.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise RecordError("price.currency must be a three-letter code such as \"CNY\"")
    category = record.get("category")
    if not isinstance(category, str) or not category.strip():
        raise RecordError('"category" must be a category slug such as "phones"')
    seller = record.get("seller")
    if not isinstance(seller, dict):
        raise RecordError(
            '"seller" must be an object {"account_age_days", "listings_count", '
            '"completed_orders"}'
        )
    cleaned_seller: dict[str, Any] = {
        name: _nonneg_int(seller.get(name), f"seller.{name}")
        for name in ("account_age_days", "listings_count", "completed_orders")
    }
    # Optional (an extension of API.md's line shape): the seller's review score.
    reputation = seller.get("reputation")
    if reputation is not None:
        if isinstance(reputation, bool) or not isinstance(reputation, int | float) \
                or not 1 <= reputation <= 5:
            raise RecordError("seller.reputation must be a number from 1 to 5, or null")
        cleaned_seller["reputation"] = float(reputation)
        cleaned_seller["reviews_count"] = _nonneg_int(seller.get("reviews_count", 0),
                                                      "seller.reviews_count")
    return {
        "title": title, "description": description,
        "price": {"amount_minor": amount, "currency": currency.upper()},
        "category": category.strip(), "seller": cleaned_seller,
    }


def _label(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.lower() in ("scam", "fraud", "honest", "ok"):
        return int(value.lower() in ("scam", "fraud"))
    raise RecordError('"label" must be 1/true/"scam" or 0/false/"honest"')


def validate_training_row(record: Any) -> dict[str, Any]:
    """A labelled listing or chat row for training."""
    if not isinstance(record, dict):
        raise RecordError("expected a JSON object")
    if "label" not in record:
        raise RecordError('a training row needs "label"')
    label = _label(record["label"])
    if "text" in record and "title" not in record:
        if not isinstance(record["text"], str) or not record["text"].strip():
            raise RecordError('"text" must be a non-empty string')
        row: dict[str, Any] = {"text": record["text"], "label": label}
    else:
        row = {**validate_listing(record), "label": label}
    if record.get("seller_id") is not None:
        row["seller_id"] = f"import-{record['seller_id']}"
    return row


def read_jsonl(handle: IO[str]) -> Iterator[tuple[int, Any | RecordError]]:
    """(line number, parsed value or RecordError) for each non-blank line."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, RecordError(f"invalid JSON ({exc})")


def load_training_file(path: Path | str) -> list[dict[str, Any]]:
    """All rows of a labelled JSONL file; RecordError naming the first bad line."""
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, value in read_jsonl(handle):
            if isinstance(value, RecordError):
                raise RecordError(f"{path}, line {number}: {value}")
            try:
                rows.append(validate_training_row(value))
            except RecordError as exc:
                raise RecordError(f"{path}, line {number}: {exc}") from None
    return rows


LabelSource = Callable[[], list[dict[str, Any]]]
_label_sources: dict[str, LabelSource] = {}


def register_label_source(source: LabelSource, *, name: str | None = None) -> LabelSource:
    """Add a provider of labelled rows (moderation registers its decisions
    here at start-up, so trust never imports moderation). Each row is a
    training row as `validate_training_row` accepts; registering the same
    name again replaces the earlier provider."""
    _label_sources[name or f"{source.__module__}.{source.__qualname__}"] = source
    return source


def training_rows_from_decisions() -> list[dict[str, Any]]:
    """Labelled rows from moderators' decisions on held or reported listings.

    Every listing a moderator removed as a scam is a row with label 1, every
    held listing a moderator approved a row with label 0 (the most valuable
    kind: a false alarm of this very model), each with the seller's figures
    and the seller's id as the group. Moderation owns those decisions and
    hands them over through `register_label_source`; a row that does not
    validate is skipped, not fatal. `fraud_train` adds these to its data.
    """
    rows: list[dict[str, Any]] = []
    for source in list(_label_sources.values()):
        for record in source():
            try:
                row = validate_training_row(record)
            except RecordError:
                continue
            if record.get("seller_id") is not None:
                row["seller_id"] = f"moderation-{record['seller_id']}"
            rows.append(row)
    return rows
