"""The search document for listings, and how a Listing becomes one.

Analysis, chosen to work the same on Elasticsearch, OpenSearch and osmem:

- `text_cjk` (the main analyzer of every text field): the standard
  tokenizer, `cjk_width` (full-width Latin and half-width kana folded),
  `lowercase`, and `cjk_bigram` with unigrams. Chinese has no spaces;
  overlapping bigrams ("苹果手机" -> 苹果, 果手, 手机) find words without a
  dictionary, and the unigrams let one-character queries (书, 包) match
  (on Elasticsearch; osmem keeps a unigram only where the character stands
  alone, so the query side also looks for single characters in the `.en`
  fields, whose standard tokenizer keeps every Chinese character). Latin
  text passes through as lower-cased words, so English works in the same
  field. We chose bigrams over smartcn/ik because those are plugins that
  many clusters (and osmem) do not have, and bigrams are what Elasticsearch's
  own `cjk` analyzer does.
- `text_en` on an `.en` sub-field of the title and category names: the
  same plus Porter stemming, so "bikes" finds "bike" and "chairs" finds
  "chair" (descriptions and attributes have none: see the fields).
- `title_split`: the title with letters split from digits ("苹果iPhone13"
  -> "苹果iPhone 13"), only when that differs from the title; queries are
  split the same way, so "iphone13" and "iphone 13" find both spellings.
  Done in Python because `word_delimiter` is not available everywhere and
  osmem's highlighter breaks on length-changing char filters.
- `suggest_keys` is a keyword field holding the lower-cased title and its
  word suffixes ("trek road bike", "road bike", "bike"), so a `prefix` query
  finds completions from any word. Not a completion field: osmem's
  completion suggester takes 100+ ms per request at a few thousand listings.

Synonyms and cross-language terms (手机 <-> phone) are expanded at query time
in Python (`search/synonyms.py`): engines differ in synonym-filter support,
and query-time expansion needs no reindex when the list changes. Changing an
analyzer here does need one (`manage.py search_reindex`).
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch.dsl import (
    Boolean,
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

# Letters glued to digits ("iPhone13", "RTX3060", "128GB"): split in Python, not
# with a pattern_replace char filter, because osmem's highlighter breaks on
# char filters that change the text's length.
_GLUED = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def split_glued(text: str) -> str:
    """Letters apart from digits: "苹果iPhone13 128GB" -> "苹果iPhone 13 128 GB"."""
    return _GLUED.sub(" ", text)


def _shown(field: type[Any]) -> Any:
    """A field kept in _source for display only: neither indexed nor in doc values."""
    return field(index=False, doc_values=False)


def _text(*, stemmed: bool = True) -> Text:
    if not stemmed:
        return Text(analyzer=text_cjk)
    return Text(analyzer=text_cjk, fields={"en": Text(analyzer=text_en)})


class ListingDocument(Document):
    """An active listing as the search server sees it."""

    listing_id = Keyword()  # a sortable copy of the id: the search_after tiebreaker
    title = _text()
    title_split = _text()  # set only when it differs from the title
    # No stemmed copy: descriptions are the longest text (the indexing cost)
    # and a stemmed copy did not move relevance (search/relevance).
    description = _text(stemmed=False)
    # Category names in English and Chinese of the listing's category and its
    # ancestors, so "手机" finds phones titled only in English and vice versa.
    category_names = _text()
    attributes_text = _text(stemmed=False)
    category = Keyword()  # the leaf slug
    category_path = Keyword()  # every ancestor slug, for "category and below"
    condition = Keyword()
    price_minor = Long()
    # "<category>|<condition>|<price bucket>": the three facets from one terms
    # aggregation, summed per facet in Python (see FACET_SEP).
    facet_key = Keyword()
    ships = Boolean()
    pickup = Boolean()
    location = GeoPoint()
    seller_id = Keyword()
    seller_score = Float()
    published_at = Date()
    accessory = Boolean()  # cases, chargers... ranked below the item itself
    suggest_keys = Keyword()  # lower-cased title and word suffixes, for prefixes
    # Shown in results, never searched, filtered, sorted or aggregated on:
    # kept in _source only. Every indexed field costs the engine work per
    # document (osmem: ~30 us each, a quarter of the bulk time for these six).
    currency = _shown(Keyword)
    negotiable = _shown(Boolean)
    city = _shown(Keyword)
    updated_at = _shown(Date)  # read back from _source by `search_reindex --check`
    photo_count = _shown(Integer)
    # A storage name, not a URL: signed S3 URLs expire, so the URL is made at query time.
    thumbnail = _shown(Keyword)

    class Index:
        # The real name is set per call (an alias with a configurable prefix).
        name = "listings"
        settings = {"number_of_shards": 1, "number_of_replicas": 0, "max_result_window": 10000}


# Price facet buckets in minor units: 0-100, 100-500, 500-1,000, 1,000-5,000,
# 5,000+ (from inclusive, to exclusive, like a range aggregation). Baked into
# `facet_key`: changing them needs `manage.py search_reindex`.
PRICE_BUCKETS: list[tuple[int | None, int | None]] = [
    (None, 10_000),
    (10_000, 50_000),
    (50_000, 100_000),
    (100_000, 500_000),
    (500_000, None),
]
FACET_SEP = "|"


def price_key(low: int | None, high: int | None) -> str:
    """A price bucket's facet key in major units: "0-100", "500-1000", "5000+"."""
    if low is None:
        return f"0-{(high or 0) // 100}"
    if high is None:
        return f"{low // 100}+"
    return f"{low // 100}-{high // 100}"


def price_bucket(price_minor: int) -> str:
    for low, high in PRICE_BUCKETS:
        if (low is None or price_minor >= low) and (high is None or price_minor < high):
            return price_key(low, high)
    return price_key(*PRICE_BUCKETS[-1])


def facet_key_for(*, category: str, condition: str, price_minor: int) -> str:
    return FACET_SEP.join((category, condition, price_bucket(price_minor)))


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
    "mount",
    "tripod",
    "bag",
    "backpack",
    "pouch",
    "helmet",
    "rack",
    "filter",
    "cushion",
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
    "滤网",
    "车锁",
    "u型锁",
    "头盔",
    "靠垫",
    "抱枕",
    "三脚架",
    "变调夹",
    "琴包",
    "相机包",
    "电脑包",
)
_WORD = re.compile(r"\w+", re.UNICODE)
# What follows these is bundled with the item ("iPhone 13 with case and
# charger", "AirPods Pro with MagSafe case", "电吉他 带音箱"), not the item.
_BUNDLE_LATIN = re.compile(r"\b(?:with|w/|incl|including|plus|and)\b|[+&]")
_BUNDLE_CJK = re.compile(r"(?:^|(?<=[^\u3400-\u9fff]))[送带含附]")


def _item_part(title: str) -> str:
    """The title up to the first word that introduces bundled extras."""
    lowered = title.lower()
    cut = len(lowered)
    for pattern in (_BUNDLE_LATIN, _BUNDLE_CJK):
        found = pattern.search(lowered)
        if found and found.start() > 0:
            cut = min(cut, found.start())
    return lowered[:cut]


def is_accessory(title: str) -> bool:
    """Whether a title offers an accessory (a case, a charger, a bike helmet)
    rather than the item itself; ranked below items unless asked for."""
    lowered = _item_part(title)
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


def _title_split(title: str) -> str | None:
    split = split_glued(title)
    return split if split != title else None


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
        title_split=_title_split(listing.title),
        description=listing.description,
        category_names=" ".join(names),
        attributes_text=attributes_text or None,
        category=listing.category.slug,
        category_path=[c.slug for c in category_chain],
        condition=listing.condition,
        price_minor=listing.price_minor,
        facet_key=facet_key_for(
            category=listing.category.slug,
            condition=listing.condition,
            price_minor=listing.price_minor,
        ),
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
        suggest_keys=[text.lower() for text in suggest_inputs(listing.title)],
    )
    if listing.location_lat is not None and listing.location_lon is not None:
        doc.location = {"lat": listing.location_lat, "lon": listing.location_lon}
    return doc
