"""The search document for listings, and how a Listing becomes one.

Analysis, chosen to work the same on Elasticsearch, OpenSearch and osmem:

- `text_cjk` (the main analyzer of every text field): the standard tokenizer,
  `cjk_width` (full-width Latin and half-width kana folded), `lowercase`, and
  `cjk_bigram` with unigrams. Chinese has no spaces; overlapping bigrams
  ("苹果手机" -> 苹果, 果手, 手机) find words without a dictionary, and the
  unigrams let one-character queries (书, 包) match. Latin text passes through
  as lower-cased words, so English works in the same field. We chose bigrams
  over smartcn/ik because those are plugins that many clusters (and osmem)
  do not have, and bigrams are what Elasticsearch's own `cjk` analyzer does.
- `text_en` on an `.en` sub-field: the same plus Porter stemming, so
  "bikes" finds "bike" and "chairs" finds "chair".
- `suggest` is a completion field fed with the title and its word suffixes
  ("Trek road bike" also suggests for "road") for prefix suggestions.

Synonyms and cross-language terms (手机 <-> phone) are expanded at query time
in Python (`search/synonyms.py`): engines differ in synonym-filter support,
and query-time expansion needs no reindex when the list changes.
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch.dsl import (
    Boolean,
    Completion,
    Date,
    Document,
    Float,
    GeoPoint,
    Integer,
    Keyword,
    Long,
    Text,
    analyzer,
    token_filter,
)

cjk_bigram = token_filter("mkt_cjk_bigram", "cjk_bigram", output_unigrams=True)
english_stem = token_filter("mkt_english_stem", "porter_stem")

text_cjk = analyzer("text_cjk", tokenizer="standard", filter=["cjk_width", "lowercase", cjk_bigram])
text_en = analyzer("text_en", tokenizer="standard", filter=["cjk_width", "lowercase", english_stem])


def _text() -> Text:
    return Text(analyzer=text_cjk, fields={"en": Text(analyzer=text_en)})


class ListingDocument(Document):
    """An active listing as the search server sees it."""

    listing_id = Keyword()  # a sortable copy of the id: the search_after tiebreaker
    title = _text()
    description = _text()
    # Category names in English and Chinese of the listing's category and its
    # ancestors, so "手机" finds phones titled only in English and vice versa.
    category_names = _text()
    attributes_text = _text()
    category = Keyword()  # the leaf slug (facet)
    category_path = Keyword()  # every ancestor slug, for "category and below"
    condition = Keyword()
    price_minor = Long()
    currency = Keyword()
    negotiable = Boolean()
    ships = Boolean()
    pickup = Boolean()
    location = GeoPoint()
    city = Keyword()
    seller_id = Keyword()
    seller_score = Float()
    published_at = Date()
    updated_at = Date()
    photo_count = Integer()
    # A storage name, not a URL: signed S3 URLs expire, so the URL is made at query time.
    thumbnail = Keyword(index=False)
    accessory = Boolean()  # cases, chargers... ranked below the item itself
    suggest = Completion(analyzer="simple", preserve_separators=True, max_input_length=60)

    class Index:
        # The real name is set per call (an alias with a configurable prefix).
        name = "listings"
        settings = {"number_of_shards": 1, "number_of_replicas": 0, "max_result_window": 10000}


ACCESSORY_WORDS = (
    "case",
    "cover",
    "charger",
    "cable",
    "screen protector",
    "protector",
    "strap",
    "adapter",
    "sleeve",
    "skin",
    "stand",
    "holder",
    "壳",
    "手机壳",
    "保护壳",
    "保护套",
    "膜",
    "钢化膜",
    "充电器",
    "数据线",
    "支架",
    "配件",
    "表带",
    "贴膜",
)
_WORD = re.compile(r"\w+", re.UNICODE)


def is_accessory(title: str) -> bool:
    lowered = title.lower()
    words = set(_WORD.findall(lowered))
    for term in ACCESSORY_WORDS:
        if term.isascii():
            if (" " in term and term in lowered) or term in words:
                return True
        elif term in lowered:
            return True
    return False


def suggest_inputs(title: str) -> list[str]:
    """The title and its word suffixes: completion matches input prefixes only."""
    words = title.split()
    inputs = [title.strip()]
    for i in range(1, min(len(words), 6)):
        inputs.append(" ".join(words[i:]))
    return [text[:60] for text in inputs if text]


def listing_to_document(
    listing: Any,
    *,
    category_chain: list[Any],
    seller_score: float | None,
    thumbnail: str | None,
    photo_count: int,
) -> ListingDocument:
    """Build the document for one active listing (callers load related rows)."""
    names: list[str] = []
    for category in category_chain:
        names.extend(filter(None, [category.name, getattr(category, "name_zh", "")]))
    attributes = listing.attributes or {}
    attributes_text = " ".join(str(v) for v in attributes.values() if isinstance(v, str | int))
    doc = ListingDocument(
        meta={"id": str(listing.id)},
        listing_id=str(listing.id),
        title=listing.title,
        description=listing.description,
        category_names=" ".join(names),
        attributes_text=attributes_text,
        category=listing.category.slug,
        category_path=[c.slug for c in category_chain],
        condition=listing.condition,
        price_minor=listing.price_minor,
        currency=listing.price_currency,
        negotiable=listing.negotiable,
        ships=listing.ships,
        pickup=listing.pickup,
        city=listing.location_city or None,
        seller_id=str(listing.seller_id),
        seller_score=seller_score,
        published_at=listing.published_at,
        updated_at=listing.updated_at,
        photo_count=photo_count,
        thumbnail=thumbnail,
        accessory=is_accessory(listing.title),
        suggest={"input": suggest_inputs(listing.title)},
    )
    if listing.location_lat is not None and listing.location_lon is not None:
        doc.location = {"lat": listing.location_lat, "lon": listing.location_lon}
    return doc
