"""Reads from the search index: full-text search, suggestions, similar items.

Every call goes through `_guard`, which turns an unreachable search server
into ServiceUnavailable (HTTP 503 with a message), never a 500.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.files.storage import default_storage
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, NotFoundError, TransportError
from elasticsearch.dsl import Q, Search

from marketplace.errors import ServiceUnavailable
from search import synonyms
from search.client import get_client
from search.indexing import alias_name
from search.params import MAX_WINDOW, SearchParams, encode_cursor

logger = logging.getLogger(__name__)
T = TypeVar("T")

TEXT_FIELDS = [
    "title^3",
    "title.en^2.5",
    "category_names^1.5",
    "attributes_text^1.2",
    "description",
    "description.en",
]
PRICE_BUCKETS = [  # minor units: 0-100, 100-500, 500-1,000, 1,000-5,000, 5,000+
    (None, 10_000),
    (10_000, 50_000),
    (50_000, 100_000),
    (100_000, 500_000),
    (500_000, None),
]


def _guard(call: Callable[[], T]) -> T:
    try:
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


def _text_query(q: str) -> Any:
    exact = Q(
        "multi_match", query=q, fields=TEXT_FIELDS, type="best_fields", operator="and", boost=3
    )
    fuzzy = Q(
        "multi_match",
        query=q,
        fields=TEXT_FIELDS,
        type="best_fields",
        fuzziness="AUTO",
        prefix_length=1,
        operator="and",
        boost=1.5,
    )
    loose = Q(
        "multi_match",
        query=q,
        fields=TEXT_FIELDS,
        type="best_fields",
        fuzziness="AUTO",
        prefix_length=1,
        minimum_should_match="2<70%",
    )
    should = [exact, fuzzy, loose]
    extra_terms = synonyms.alternatives(q)
    if extra_terms:
        should.append(
            Q(
                "multi_match",
                query=" ".join(extra_terms),
                fields=TEXT_FIELDS,
                type="best_fields",
                boost=0.8,
            )
        )
    return Q("bool", should=should, minimum_should_match=1)


def _asks_for_accessory(q: str) -> bool:
    from search.documents import is_accessory

    return is_accessory(q)


def _ranked(query: Any, q: str) -> Any:
    """Relevance times freshness (0.7-1.0) times seller reputation (0.8-1.0),
    and accessories pushed below the item unless the query asks for one."""
    fresh = Q(
        "function_score",
        query=query,
        score_mode="sum",
        boost_mode="multiply",
        functions=[
            {"weight": 0.7},
            {
                "gauss": {
                    "published_at": {"origin": "now", "scale": "30d", "offset": "2d", "decay": 0.5}
                },
                "weight": 0.3,
            },
        ],
    )
    functions: list[dict[str, Any]] = [
        {
            "field_value_factor": {
                "field": "seller_score",
                "missing": 0.5,
                "factor": 0.2,
                "modifier": "none",
            }
        },
        {"weight": 0.8},
    ]
    ranked = Q(
        "function_score", query=fresh, functions=functions, score_mode="sum", boost_mode="multiply"
    )
    if q and not _asks_for_accessory(q):
        ranked = Q(
            "function_score",
            query=ranked,
            boost_mode="multiply",
            functions=[{"filter": {"term": {"accessory": True}}, "weight": 0.35}],
        )
    return ranked


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


def build_search(params: SearchParams, *, with_facets: bool = True) -> Search:
    base = _text_query(params.q) if params.q else Q("match_all")
    query = Q("bool", must=[_ranked(base, params.q)], filter=_filters(params))
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
        s.aggs.bucket("category", "terms", field="category", size=100)
        s.aggs.bucket("condition", "terms", field="condition", size=10)
        ranges = []
        for low, high in PRICE_BUCKETS:
            bucket: dict[str, Any] = {"key": _price_key(low, high)}
            if low is not None:
                bucket["from"] = low
            if high is not None:
                bucket["to"] = high
            ranges.append(bucket)
        s.aggs.bucket("price", "range", field="price_minor", ranges=ranges)
    if params.cursor:
        s = s.extra(search_after=params.cursor, size=params.page_size)
    else:
        start = (params.page - 1) * params.page_size
        s = s[start : start + params.page_size]
    return s


def _price_key(low: int | None, high: int | None) -> str:
    def major(v: int) -> str:
        return f"{v // 100}"

    if low is None:
        return f"0-{major(high or 0)}"
    if high is None:
        return f"{major(low)}+"
    return f"{major(low)}-{major(high)}"


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


def search_listings(
    *, params: SearchParams, category_names: dict[str, str] | None = None
) -> SearchPage:
    """One page of active listings matching `params`, with facets."""
    s = build_search(params)
    response = _guard(s.execute)
    hits = list(response.hits)
    results = [_result(hit, params) for hit in hits]
    total = response.hits.total.value if hasattr(response.hits.total, "value") else len(hits)
    facets: dict[str, list[dict[str, Any]]] = {"category": [], "condition": [], "price": []}
    aggs = getattr(response, "aggregations", None)
    if aggs is not None:
        for bucket in aggs.category.buckets:
            item = {"key": bucket.key, "count": bucket.doc_count}
            if category_names and bucket.key in category_names:
                item["name"] = category_names[bucket.key]
            facets["category"].append(item)
        facets["condition"] = [{"key": b.key, "count": b.doc_count} for b in aggs.condition.buckets]
        for bucket in aggs.price.buckets:
            item = {"key": bucket.key, "count": bucket.doc_count}
            if getattr(bucket, "from", None) is not None:
                item["from"] = int(getattr(bucket, "from"))
            if getattr(bucket, "to", None) is not None:
                item["to"] = int(bucket.to)
            facets["price"].append(item)
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


def suggest(*, prefix: str, size: int = 8) -> list[dict[str, str]]:
    prefix = prefix.strip()[:60]
    if not prefix:
        return []
    body = {
        "suggest": {
            "titles": {
                "prefix": prefix.lower(),
                "completion": {"field": "suggest", "size": size * 2, "skip_duplicates": True},
            }
        },
        "_source": False,
    }
    response = _guard(lambda: get_client().search(index=alias_name(), body=body))
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    for option in response.get("suggest", {}).get("titles", [{}])[0].get("options", []):
        text = option.get("text", "").strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append({"text": text})
        if len(out) >= size:
            break
    return out


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
