"""Reads from the search index: full-text search, suggestions, similar items.

Every call goes through `_guard`, which turns an unreachable search server
into ServiceUnavailable (HTTP 503 with a message), never a 500.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.storage import default_storage
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, NotFoundError, TransportError
from elasticsearch.dsl import Q, Search

from marketplace.errors import ServiceUnavailable
from search import synonyms
from search.client import get_client
from search.documents import (
    FACET_SEP,
    PRICE_BUCKETS,
    is_accessory,
    price_key,
    split_glued,
    suggest_inputs,
)
from search.indexing import alias_name
from search.params import MAX_WINDOW, SearchParams, encode_cursor

logger = logging.getLogger(__name__)
T = TypeVar("T")

TEXT_FIELDS = [
    "title^3",
    "title.en^2.5",
    "title_split^3",
    "title_split.en^2.5",
    "category_names^1.5",
    "category_names.en^1.5",
    "attributes_text^1.2",
    "description",
]
# Ranking weights (tuned on search/relevance; `manage.py search_relevance`):
# - CONCEPT_WEIGHT: every query unit found (own words or a stand-in) in the
#   best field scores that field's weight (title 3 ... description 1) times
#   this; the main signal, language-neutral.
# - ALTERNATIVE_WEIGHT: a unit found only through a synonym, translation or
#   spelling correction counts this much of one found as typed.
# - CATEGORY_WEIGHT: per unit that names the listing's category.
# - LITERAL_WEIGHT: the BM25 tiers on the query as typed (exact, fuzzy,
#   loose), which order listings within the same concept score and match
#   partially when not every unit is found.
# - FRESHNESS_STEPS, SELLER_STEP, ACCESSORY_FACTOR: score multipliers for
#   older listings, sellers with a lower reputation, and accessories.
CONCEPT_WEIGHT = 8.0
ALTERNATIVE_WEIGHT = 0.8
CATEGORY_WEIGHT = 16.0
LITERAL_WEIGHT = 0.5
FRESHNESS_STEPS = ((14, 0.92), (45, 0.88))  # older than N days: x factor (cumulative)
SELLER_STEP = 0.92
ACCESSORY_FACTOR = 0.35
FUZZINESS = "AUTO"
# The loose tier: up to 2 words all, more 70%; when that finds fewer than
# RELAX_BELOW listings, the search runs again with 2-4 words all but one
# ("macbook pro" then also finds MacBook Airs). Relaxing only then keeps
# broad queries from matching every listing with "13" in it.
LOOSE_MATCH = "2<70%"
LOOSE_MATCH_RELAXED = "1<-1 4<70%"
LOOSE_MATCH_CJK = "2<70%"
RELAX_BELOW = 10
CATEGORY_CACHE_SECONDS = 300.0
CATEGORY_FACET_SIZE = 100
CONDITION_FACET_SIZE = 10
# Buckets of the one facet aggregation (category x condition x price bucket):
# more than the combinations there can be, so every count is exact.
FACET_KEY_BUCKETS = 10_000


def _guard(call: Callable[[], T]) -> T:
    try:
        try:
            return call()
        except NotFoundError as exc:
            if "index_not_found" not in str(exc):
                raise
            # A fresh cluster before its first reindex: create the (empty)
            # index behind the alias and answer "nothing found", not a 500.
            from search.indexing import ensure_index

            ensure_index()
            return call()
    except (TransportConnectionError, ConnectionTimeout, TransportError) as exc:
        logger.warning("search server unreachable: %s", exc)
        raise ServiceUnavailable(
            "Search is temporarily unavailable; please try again in a moment."
        ) from exc
    except ApiError as exc:
        if getattr(exc, "status_code", 500) >= 500 or getattr(exc, "status_code", 0) == 0:
            logger.warning("search server error: %s", exc)
            raise ServiceUnavailable(
                "Search is temporarily unavailable; please try again in a moment."
            ) from exc
        raise


def _search() -> Search:
    return Search(using=get_client(), index=alias_name())


# --- full-text search -------------------------------------------------------------------


@dataclass
class SearchPage:
    results: list[dict[str, Any]]
    total: int
    facets: dict[str, list[dict[str, Any]]]
    next_cursor: str | None
    next_page: int | None
    took_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_LATIN_WORDS = re.compile(r"[A-Za-z0-9]+")


def _fields(text: str) -> list[str]:
    """The fields to search `text` in. The `.en` (stemmed) fields see Chinese
    as single characters, which would let "单反" match any 单 and 反 apart, so
    Chinese-only text skips them, except a single character ("靴", "床"):
    the bigram fields find it only where it stands alone on osmem, which
    indexes no unigrams inside longer runs, while `.en` has every character."""
    if _CJK.search(text) and not _LATIN.search(text) and len(text.strip()) > 1:
        return [f for f in TEXT_FIELDS if ".en" not in f]
    return TEXT_FIELDS


def _match(text: str, *, boost: float = 1.0, fuzzy: bool = False) -> Any:
    """Every word of `text` in one field (CJK: every bigram and character)."""
    options: dict[str, Any] = {}
    if fuzzy:
        options = {"fuzziness": FUZZINESS, "prefix_length": 1}
    return Q(
        "multi_match",
        query=text,
        fields=_fields(text),
        type="best_fields",
        operator="and",
        boost=boost,
        **options,
    )


def _field_groups(text: str) -> list[tuple[list[str], float]]:
    """The fields for `text` grouped by weight: [(["title", "title_split"], 3), ...]."""
    groups: dict[float, list[str]] = {}
    for spec in _fields(text):
        name, _, weight = spec.partition("^")
        groups.setdefault(float(weight or 1), []).append(name)
    return [(names, weight) for weight, names in groups.items()]


def _found(text: str, *, weight: float = 1.0, fuzzy: bool = False) -> Any:
    """Where `text` occurs, not how often: the weight of the best field it is
    found in (title 3 ... description 1) times `weight`. Terms in either
    language, common or rare, count alike, so "bike" and "自行车" in a title
    are worth the same."""
    options: dict[str, Any] = {"operator": "and"}
    if fuzzy:
        options.update(fuzziness=FUZZINESS, prefix_length=1)
    return Q(
        "dis_max",
        queries=[
            Q(
                "constant_score",
                filter=Q("multi_match", query=text, fields=names, **options),
                boost=round(field_weight * weight, 3),
            )
            for names, field_weight in _field_groups(text)
        ],
    )


def _wants_fuzzy(units: list[synonyms.Unit]) -> bool:
    """Spelling tolerance only when a word is neither a known term nor a
    number: "coat" must not find "cot", nor "boots" "books"."""
    return any(
        unit.latin and not unit.known and any(c.isalpha() for c in unit.text) for unit in units
    )


def _concepts(units: list[synonyms.Unit], *, fuzzy: bool) -> Any | None:
    """Every unit of the query found by its own words or a stand-in
    (synonym, translation, corrected spelling); None when nothing expands."""
    if not any(unit.alternatives for unit in units):
        return None
    must: list[Any] = []
    should: list[Any] = []
    for unit in units:
        options = [_found(unit.text, fuzzy=fuzzy and unit.latin and not unit.known)]
        options += [_found(alt, weight=ALTERNATIVE_WEIGHT) for alt in unit.alternatives]
        clause = Q("dis_max", queries=options) if len(options) > 1 else options[0]
        (should if unit.optional else must).append(clause)
    if not must:
        return None
    return Q("bool", must=must, should=should, boost=CONCEPT_WEIGHT)


_category_cache: tuple[float, list[tuple[str, set[str], str]]] | None = None
_NAME_WORD = re.compile(r"[a-z0-9]+")


def _category_names() -> list[tuple[str, set[str], str]]:
    """(slug, English name words, Chinese name) of every category, cached
    for a few minutes (the tree changes by migration)."""
    global _category_cache
    now = time.monotonic()
    if _category_cache is None or now - _category_cache[0] > CATEGORY_CACHE_SECONDS:
        from listings.selectors import category_list

        rows = [(c.slug, _name_words(c.name), c.name_zh) for c in category_list()]
        _category_cache = (now, rows)
    return _category_cache[1]


def _name_words(text: str) -> set[str]:
    """Lower-cased words, plural endings off ("Phones" -> phone, "toys" -> toy)."""
    out = set()
    for word in _NAME_WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith(("sses", "shes", "ches", "xes")):
            word = word[:-2]
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


def _names_category(text: str, words: set[str], name_zh: str) -> bool:
    if _CJK.search(text) and not _LATIN.search(text):
        return bool(name_zh) and text in name_zh
    wanted = _name_words(text)
    return bool(wanted) and wanted <= words


def _category_affinity(units: list[synonyms.Unit]) -> Any | None:
    """A bonus for listings whose category (or a parent) is what a query
    unit names ("自行车", "bike" -> Bikes 自行车), so a bike outranks an
    exercise bike or a bike helmet that merely has the word in its title.
    Names are matched here, in Python: one `terms` filter per unit is
    cheaper for the engine than matching every stand-in against the names."""
    categories = _category_names()
    clauses = []
    for unit in units:
        if unit.optional:
            continue
        texts = [unit.text, *unit.alternatives]
        slugs = sorted(
            {
                slug
                for slug, words, name_zh in categories
                if any(_names_category(t, words, name_zh) for t in texts)
            }
        )
        if slugs:
            clauses.append(
                Q("constant_score", filter=Q("terms", category_path=slugs), boost=CATEGORY_WEIGHT)
            )
    if not clauses:
        return None
    return Q("bool", should=clauses)


def _text_query(q: str, *, relaxed: bool = False) -> Any:
    q = split_glued(q)
    units = synonyms.expand(q)
    fuzzy = _wants_fuzzy(units)
    # Chinese gives many overlapping tokens per word: 70% is loose enough.
    loose = LOOSE_MATCH_CJK if _CJK.search(q) else LOOSE_MATCH_RELAXED if relaxed else LOOSE_MATCH
    should = [_match(q, boost=3 * LITERAL_WEIGHT)]
    if fuzzy:
        should.append(_match(q, boost=1.5 * LITERAL_WEIGHT, fuzzy=True))
    should.append(
        Q(
            "multi_match",
            query=q,
            fields=_fields(q),
            type="best_fields",
            boost=LITERAL_WEIGHT,
            minimum_should_match=loose,
            **({"fuzziness": FUZZINESS, "prefix_length": 1} if fuzzy else {}),
        )
    )
    concepts = _concepts(units, fuzzy=fuzzy)
    if concepts is not None:
        should.append(concepts)
    query = Q("bool", should=should, minimum_should_match=1)
    affinity = _category_affinity(units) if CATEGORY_WEIGHT else None
    if affinity is not None:
        query = Q("bool", must=[query], should=[affinity])
    return query


def _ranked(query: Any, q: str) -> Any:
    """Relevance x freshness x seller reputation x accessory penalty, as
    chained `boosting` queries (each multiplies the score of the documents
    its `negative` matches). Not function_score: osmem evaluates functions
    per matching document at ~100 us, seconds for a broad query on 100k
    listings, while a boosting clause costs about what a filter does.

    Freshness steps down past 14 and 45 days (x0.92, then x0.88: 0.81 in
    all; equal scores are ordered newest first by the sort anyway); sellers
    whose reputation is below 0.5 x0.92 (new sellers, with none yet, are
    not demoted); accessories x0.35 unless the query asks for one.
    """
    ranked = query
    for days, factor in FRESHNESS_STEPS:
        ranked = _freshness_step(ranked, days, factor)
    ranked = _demote(ranked, Q("range", seller_score={"lt": 0.5}), SELLER_STEP)
    if not is_accessory(q):
        ranked = _demote(ranked, Q("term", accessory=True), ACCESSORY_FACTOR)
    return ranked


def _demote(query: Any, negative: Any, factor: float) -> Any:
    return Q("boosting", positive=query, negative=negative, negative_boost=factor)


def _freshness_step(query: Any, days: int, factor: float) -> Any:
    """x`factor` for listings older than `days`, stated through whichever side
    of the step has fewer listings. osmem enumerates every listing a clause
    matches across the whole index, whatever the rest of the query matches:
    with listings live for LISTING_EXPIRY_DAYS (60), "older than 14 days" is
    three quarters of the index and "newer" one quarter. Multiplying the newer
    side by 1/factor instead orders every result exactly the same (all scores
    scaled by one constant); Elasticsearch accepts a boost above 1 here too."""
    half_life = settings.LISTING_EXPIRY_DAYS / 2
    if days < half_life:
        return _demote(query, Q("range", published_at={"gte": f"now-{days}d/h"}), 1 / factor)
    return _demote(query, Q("range", published_at={"lt": f"now-{days}d/h"}), factor)


def _filters(params: SearchParams) -> list[Any]:
    filters: list[Any] = []
    if params.category:
        filters.append(Q("term", category_path=params.category))
    if params.condition:
        filters.append(Q("terms", condition=params.condition))
    price: dict[str, int] = {}
    if params.min_price is not None:
        price["gte"] = params.min_price
    if params.max_price is not None:
        price["lte"] = params.max_price
    if price:
        filters.append(Q("range", price_minor=price))
    if params.ships is not None:
        filters.append(Q("term", ships=params.ships))
    if params.pickup is not None:
        filters.append(Q("term", pickup=params.pickup))
    if params.radius_km is not None and params.has_point:
        filters.append(
            Q(
                "geo_distance",
                distance=f"{params.radius_km}km",
                location={"lat": params.lat, "lon": params.lon},
            )
        )
    return filters


def _sort(params: SearchParams) -> list[Any]:
    tiebreak = {"listing_id": "asc"}
    if params.sort == "newest":
        return [{"published_at": "desc"}, tiebreak]
    if params.sort == "price_asc":
        return [{"price_minor": "asc"}, tiebreak]
    if params.sort == "price_desc":
        return [{"price_minor": "desc"}, tiebreak]
    if params.sort == "distance":
        return [
            {
                "_geo_distance": {
                    "location": {"lat": params.lat, "lon": params.lon},
                    "order": "asc",
                    "unit": "km",
                }
            },
            tiebreak,
        ]
    if params.q:
        return ["_score", {"published_at": "desc"}, tiebreak]
    return [{"published_at": "desc"}, tiebreak]


def build_search(
    params: SearchParams, *, with_facets: bool = True, relaxed: bool = False
) -> Search:
    if params.q:
        text = _text_query(params.q, relaxed=relaxed)
        # Only a relevance sort needs the ranking; the others ignore scores.
        ranked = _ranked(text, params.q) if params.sort == "relevance" else text
        query = Q("bool", must=[ranked], filter=_filters(params))
    else:
        query = Q("bool", filter=_filters(params))
    s = _search().query(query).sort(*_sort(params)).extra(track_total_hits=True)
    s = s.source(
        [
            "listing_id",
            "title",
            "price_minor",
            "currency",
            "city",
            "thumbnail",
            "location",
            "condition",
            "category",
            "published_at",
            "seller_id",
        ]
    )
    if params.q:
        # encoder=html escapes the listing text around the <mark> tags.
        s = s.highlight_options(encoder="html", pre_tags=["<mark>"], post_tags=["</mark>"])
        s = s.highlight("title", "description", fragment_size=120, number_of_fragments=1)
    if with_facets:
        # One terms aggregation on the precomputed "category|condition|price
        # bucket" key instead of three (category, condition, price range):
        # osmem reads each aggregated field from every matching document's
        # source (~5-8 us a document and aggregation), so one pass instead of
        # three cuts the facet cost about threefold; Elasticsearch does it
        # from doc values either way. `_facets` sums the combinations.
        s.aggs.bucket("facets", "terms", field="facet_key", size=FACET_KEY_BUCKETS)
    if params.cursor:
        s = s.extra(search_after=params.cursor, size=params.page_size)
    else:
        start = (params.page - 1) * params.page_size
        s = s[start : start + params.page_size]
    return s


def _facets(aggs: Any, category_names: dict[str, str] | None) -> dict[str, list[dict[str, Any]]]:
    """Category, condition and price facets from the combined facet_key buckets:
    categories and conditions by count (then key), price buckets in order,
    empty ones included (as a range aggregation gives them)."""
    by_category: dict[str, int] = {}
    by_condition: dict[str, int] = {}
    by_price: dict[str, int] = {}
    for bucket in aggs.facets.buckets:
        category, condition, price = bucket.key.split(FACET_SEP)
        count = bucket.doc_count
        by_category[category] = by_category.get(category, 0) + count
        by_condition[condition] = by_condition.get(condition, 0) + count
        by_price[price] = by_price.get(price, 0) + count

    def ranked(counts: dict[str, int], size: int) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]

    categories = []
    for key, count in ranked(by_category, CATEGORY_FACET_SIZE):
        item: dict[str, Any] = {"key": key, "count": count}
        if category_names and key in category_names:
            item["name"] = category_names[key]
        categories.append(item)
    prices = []
    for low, high in PRICE_BUCKETS:
        key = price_key(low, high)
        item = {"key": key, "count": by_price.get(key, 0)}
        if low is not None:
            item["from"] = low
        if high is not None:
            item["to"] = high
        prices.append(item)
    return {
        "category": categories,
        "condition": [
            {"key": k, "count": c} for k, c in ranked(by_condition, CONDITION_FACET_SIZE)
        ],
        "price": prices,
    }


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def _photo_url(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return default_storage.url(name)
    except Exception:  # noqa: BLE001 - a missing URL must not break a result page
        return None


def _result(hit: Any, params: SearchParams) -> dict[str, Any]:
    src = hit.to_dict()
    location = src.get("location")
    distance = None
    if params.has_point and isinstance(location, dict):
        distance = round(haversine_km(params.lat, params.lon, location["lat"], location["lon"]), 1)
    highlight: dict[str, str] = {}
    if hasattr(hit.meta, "highlight"):
        for name, fragments in hit.meta.highlight.to_dict().items():
            if fragments:
                highlight[name] = fragments[0]
    return {
        "id": src.get("listing_id") or hit.meta.id,
        "title": src.get("title"),
        "price": {"amount_minor": src.get("price_minor"), "currency": src.get("currency")},
        "thumbnail_url": _photo_url(src.get("thumbnail")),
        "city": src.get("city"),
        "distance_km": distance,
        "highlight": highlight,
        "condition": src.get("condition"),
        "category": src.get("category"),
        "published_at": src.get("published_at"),
        "seller_id": src.get("seller_id"),
    }


def _total(response: Any) -> int:
    total = response.hits.total
    return total.value if hasattr(total, "value") else len(response.hits)


def _relaxes(q: str) -> bool:
    """Whether the relaxed loose tier differs for `q` (Latin, 2+ words)."""
    return not _CJK.search(q) and len(_LATIN_WORDS.findall(q)) > 1


def search_listings(
    *, params: SearchParams, category_names: dict[str, str] | None = None
) -> SearchPage:
    """One page of active listings matching `params`, with facets."""
    response = _guard(build_search(params).execute)
    if params.q and _total(response) < RELAX_BELOW and _relaxes(params.q):
        # Few results: let one word of a 2-4 word query go unmatched. Every
        # page decides the same way, so pages and cursors stay consistent.
        response = _guard(build_search(params, relaxed=True).execute)
    hits = list(response.hits)
    results = [_result(hit, params) for hit in hits]
    total = _total(response)
    facets: dict[str, list[dict[str, Any]]] = {"category": [], "condition": [], "price": []}
    aggs = getattr(response, "aggregations", None)
    if aggs is not None and "facets" in aggs:
        facets = _facets(aggs, category_names)
    next_cursor = None
    next_page = None
    consumed = (params.page - 1) * params.page_size + len(hits) if not params.cursor else None
    if len(hits) == params.page_size and hits:
        more = consumed is None or consumed < total
        if more:
            sort_values = list(hits[-1].meta.sort)
            next_cursor = encode_cursor(sort_values)
            if consumed is not None and consumed + params.page_size <= MAX_WINDOW:
                next_page = params.page + 1
    return SearchPage(
        results=results,
        total=total,
        facets=facets,
        next_cursor=next_cursor,
        next_page=next_page,
        took_ms=getattr(response, "took", 0),
    )


# --- suggestions --------------------------------------------------------------------------


SUGGEST_POOL = 50  # matching listings the suggestions are drawn from


def suggest(*, prefix: str, size: int = 8) -> list[dict[str, str]]:
    """Completions of `prefix`: titles, or their tails from a later word
    ("roa" -> "road bike"), that start with it; the most common among the
    newest matching listings first, then the shortest.

    A `prefix` query on the `suggest_keys` keyword field, not the completion
    suggester: osmem answers the latter in 100+ ms at a few thousand
    listings (it builds its automaton per request), this in a few ms.
    """
    prefix = prefix.strip()[:60]
    if not prefix:
        return []
    key = prefix.lower()
    body = {
        "query": {"prefix": {"suggest_keys": key}},
        "sort": [{"published_at": "desc"}],
        "size": SUGGEST_POOL,
        "_source": ["title"],
        "track_total_hits": False,
    }
    response = _guard(lambda: get_client().search(index=alias_name(), body=body))
    counts: dict[str, int] = {}
    texts: dict[str, str] = {}
    for hit in response.get("hits", {}).get("hits", []):
        title = (hit.get("_source") or {}).get("title") or ""
        for text in suggest_inputs(title):
            lowered = text.lower()
            if lowered.startswith(key):
                counts[lowered] = counts.get(lowered, 0) + 1
                texts.setdefault(lowered, text)
    ranked = sorted(counts, key=lambda k: (-counts[k], len(k), k))
    return [{"text": texts[k]} for k in ranked[:size]]


# --- similar items ---------------------------------------------------------------------------


def similar(*, listing: Any, size: int = 12) -> list[dict[str, Any]]:
    """Active listings like `listing`: more_like_this on its text, the same
    top-level category, a price between 0.4x and 2.5x, never itself."""
    alias = alias_name()

    def run() -> Any:
        client = get_client()
        like: list[Any]
        try:
            client.get(index=alias, id=str(listing.id), _source=False)
            like = [{"_index": alias, "_id": str(listing.id)}]
        except NotFoundError:
            like = [f"{listing.title} {listing.description}"]
        root = listing.category
        while getattr(root, "parent", None) is not None:
            root = root.parent
        query = Q(
            "bool",
            must=[
                Q(
                    "more_like_this",
                    fields=["title", "title.en", "description", "category_names"],
                    like=like,
                    min_term_freq=1,
                    min_doc_freq=1,
                    max_query_terms=30,
                    minimum_should_match="10%",
                )
            ],
            should=[Q("term", category=listing.category.slug)],
            filter=[
                Q("term", category_path=root.slug),
                Q(
                    "range",
                    price_minor={
                        "gte": int(listing.price_minor * 0.4),
                        "lte": int(listing.price_minor * 2.5),
                    },
                ),
            ],
            must_not=[Q("ids", values=[str(listing.id)])],
        )
        return _search().query(query)[:size].execute()

    response = _guard(run)
    params = SearchParams()
    return [_result(hit, params) for hit in response.hits]
