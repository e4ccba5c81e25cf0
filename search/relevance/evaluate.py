"""Score the search engine against the judged test set with nDCG@10.

    from search.relevance.evaluate import evaluate_in_rollback
    report = evaluate_in_rollback()      # loads, indexes, queries, rolls back
    report.mean, report.worst(10)

The corpus (`corpus.json`) becomes real Category/Listing rows, is indexed
through `search.indexing.reindex()` into the index behind the current
`ELASTICSEARCH_INDEX_PREFIX`, and every judged query (`judgments.json`) runs
through `search.selectors.search_listings` with its parameters parsed by
`parse_search_params`, exactly as the API does.

nDCG@10 is the standard one: DCG = sum over the first 10 results of
(2^grade - 1) / log2(rank + 1); the ideal DCG ranks every judged item of the
query by grade; nDCG = DCG / ideal DCG. Unjudged results count as grade 0.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from listings.models import Category, Listing, ListingStatus
from search import indexing
from search.params import parse_search_params

HERE = Path(__file__).resolve().parent
CORPUS_PATH = HERE / "corpus.json"
JUDGMENTS_PATH = HERE / "judgments.json"
K = 10
SELLERS = 12  # corpus listings are spread over this many sellers
Progress = Callable[[str], None]


# --- data -------------------------------------------------------------------------------


def load_corpus(path: Path | str = CORPUS_PATH) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return list(json.load(fh)["listings"])


def load_judgments(path: Path | str = JUDGMENTS_PATH) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return list(json.load(fh)["queries"])


# --- metric -----------------------------------------------------------------------------


def dcg(grades: Iterable[int]) -> float:
    return sum((2**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(grades, start=1))


def ndcg_at_k(ranked_grades: list[int], judged_grades: Iterable[int], k: int = K) -> float:
    """nDCG@k of a ranking (the grades of the returned items, in order) given
    the grades of every judged item of the query (the ideal ranking)."""
    ideal = dcg(sorted((g for g in judged_grades if g > 0), reverse=True)[:k])
    if ideal == 0:
        raise ValueError("a query needs at least one item graded above 0")
    return dcg(ranked_grades[:k]) / ideal


# --- checking the judgments ----------------------------------------------------------


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def check_judgments(
    corpus: list[dict[str, Any]],
    judgments: list[dict[str, Any]],
    *,
    category_parents: dict[str, str | None] | None = None,
) -> list[str]:
    """Problems in the test set: unknown keys, bad grades, duplicate ids, and
    items graded relevant that the query's own filters exclude (a judgment the
    engine could never satisfy)."""
    items = {item["key"]: item for item in corpus}
    problems: list[str] = []
    if len(items) != len(corpus):
        problems.append("corpus: duplicate keys")
    seen: set[str] = set()
    for query in judgments:
        qid = query["id"]
        if qid in seen:
            problems.append(f"{qid}: duplicate query id")
        seen.add(qid)
        grades = query["judgments"]
        if not any(g > 0 for g in grades.values()):
            problems.append(f"{qid}: nothing graded above 0")
        params = parse_search_params(query["params"])
        for key, grade in grades.items():
            item = items.get(key)
            if item is None:
                problems.append(f"{qid}: unknown corpus key {key!r}")
                continue
            if grade not in (0, 1, 2, 3):
                problems.append(f"{qid}: {key} has grade {grade!r} (use 0-3)")
            if grade and not _passes_filters(item, params, category_parents):
                problems.append(
                    f"{qid}: {key} is graded {grade} but the query's filters exclude it"
                )
    return problems


def _passes_filters(
    item: dict[str, Any], params: Any, parents: dict[str, str | None] | None
) -> bool:
    if params.category:
        chain, slug = set(), item["category"]
        while slug and slug not in chain:
            chain.add(slug)
            slug = (parents or {}).get(slug)
        if params.category not in chain:
            return False
    if params.condition and item["condition"] not in params.condition:
        return False
    if params.min_price is not None and item["price_minor"] < params.min_price:
        return False
    if params.max_price is not None and item["price_minor"] > params.max_price:
        return False
    if params.radius_km is not None and params.has_point:
        distance = _haversine_km(params.lat, params.lon, item["lat"], item["lon"])
        if distance > params.radius_km:
            return False
    return True


# --- loading the corpus --------------------------------------------------------------


def load_into_database(corpus: list[dict[str, Any]]) -> dict[str, str]:
    """Create the corpus as active listings; returns listing id -> corpus key.

    Call inside a transaction that is rolled back (see `evaluate_in_rollback`).
    """
    User = get_user_model()
    sellers = []
    for n in range(SELLERS):
        user, _ = User.objects.get_or_create(
            username=f"relevance-seller-{n}",
            defaults={"email": f"relevance-seller-{n}@example.invalid"},
        )
        sellers.append(user)
    categories = {c.slug: c for c in Category.objects.all()}
    now = timezone.now()
    rows = []
    for n, item in enumerate(corpus):
        category = categories.get(item["category"])
        if category is None:
            raise ValueError(f"{item['key']}: unknown category {item['category']!r}")
        published = now - timedelta(days=float(item.get("age_days", 0)))
        rows.append(
            Listing(
                seller=sellers[n % len(sellers)],
                category=category,
                title=item["title"],
                description=item.get("description", ""),
                condition=item["condition"],
                price_minor=item["price_minor"],
                price_currency=item.get("currency", "CNY"),
                negotiable=bool(item.get("negotiable", False)),
                location_lat=item.get("lat"),
                location_lon=item.get("lon"),
                location_city=item.get("city", ""),
                ships=bool(item.get("ships", True)),
                pickup=bool(item.get("pickup", True)),
                attributes=item.get("attributes") or {},
                status=ListingStatus.ACTIVE,
                published_at=published,
                status_changed_at=published,
                expires_at=published + timedelta(days=60),
            )
        )
    created = Listing.objects.bulk_create(rows)
    return {str(listing.id): item["key"] for listing, item in zip(created, corpus, strict=True)}


def _prune_index(keep: set[str]) -> int:
    """Drop documents of other active listings the database held (reindex
    indexes every active listing); the evaluation sees the corpus alone."""
    from elasticsearch.helpers import bulk, scan

    from search.client import get_client

    client = get_client()
    alias = indexing.alias_name()
    extra = [
        hit["_id"]
        for hit in scan(client, index=alias, query={"query": {"match_all": {}}}, _source=False)
        if hit["_id"] not in keep
    ]
    if extra:
        bulk(client, ({"_op_type": "delete", "_index": alias, "_id": i} for i in extra))
        client.indices.refresh(index=alias)
    return len(extra)


# --- evaluation ----------------------------------------------------------------------


@dataclass
class Hit:
    key: str | None
    title: str
    grade: int


@dataclass
class QueryScore:
    id: str
    group: str
    params: dict[str, Any]
    ndcg: float
    hits: list[Hit]
    missed: list[tuple[str, int]]  # judged relevant items not in the top k: (key, grade)


@dataclass
class Evaluation:
    queries: list[QueryScore]
    indexed: int
    pruned: int = 0
    k: int = K
    problems: list[str] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return sum(q.ndcg for q in self.queries) / len(self.queries) if self.queries else 0.0

    def by_group(self) -> dict[str, float]:
        groups: dict[str, list[float]] = defaultdict(list)
        for q in self.queries:
            groups[q.group].append(q.ndcg)
        return {name: sum(v) / len(v) for name, v in sorted(groups.items())}

    def worst(self, n: int = 10) -> list[QueryScore]:
        return sorted(self.queries, key=lambda q: (q.ndcg, q.id))[:n]

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "mean_ndcg": round(self.mean, 4),
            "by_group": {g: round(v, 4) for g, v in self.by_group().items()},
            "queries": {q.id: round(q.ndcg, 4) for q in self.queries},
        }


def run_queries(
    judgments: list[dict[str, Any]],
    keys_by_id: dict[str, str],
    titles: dict[str, str],
    *,
    k: int = K,
) -> list[QueryScore]:
    from search.selectors import search_listings

    known = set(Category.objects.values_list("slug", flat=True))
    scores = []
    for query in judgments:
        grades: dict[str, int] = query["judgments"]
        params = parse_search_params({**query["params"], "page_size": k}, known_categories=known)
        page = search_listings(params=params)
        hits = []
        for result in page.results[:k]:
            key = keys_by_id.get(str(result["id"]))
            hits.append(
                Hit(key=key, title=titles.get(key or "", result["title"]), grade=grades.get(key, 0))
            )
        returned = {h.key for h in hits}
        missed = sorted(
            ((key, g) for key, g in grades.items() if g > 0 and key not in returned),
            key=lambda x: (-x[1], x[0]),
        )
        scores.append(
            QueryScore(
                id=query["id"],
                group=query.get("group", ""),
                params=query["params"],
                ndcg=ndcg_at_k([h.grade for h in hits], grades.values(), k),
                hits=hits,
                missed=missed,
            )
        )
    return scores


def evaluate(
    *,
    corpus: list[dict[str, Any]] | None = None,
    judgments: list[dict[str, Any]] | None = None,
    k: int = K,
    progress: Progress | None = None,
) -> Evaluation:
    """Load the corpus into the database, rebuild the index behind the current
    prefix from it, run every judged query and score it.

    Writes rows: call it inside a transaction that is rolled back, or use
    `evaluate_in_rollback`.
    """
    say = progress or (lambda _msg: None)
    corpus = corpus if corpus is not None else load_corpus()
    judgments = judgments if judgments is not None else load_judgments()
    parents = {
        c.slug: (c.parent.slug if c.parent else None)
        for c in Category.objects.select_related("parent")
    }
    problems = check_judgments(corpus, judgments, category_parents=parents)
    say(f"loading {len(corpus)} listings into the database")
    keys_by_id = load_into_database(corpus)
    say(f"indexing into {indexing.alias_name()}")
    result = indexing.reindex()
    pruned = _prune_index(set(keys_by_id))
    say(f"running {len(judgments)} queries")
    titles = {item["key"]: item["title"] for item in corpus}
    scores = run_queries(judgments, keys_by_id, titles, k=k)
    return Evaluation(
        queries=scores, indexed=result.indexed - pruned, pruned=pruned, k=k, problems=problems
    )


class _Rollback(Exception):
    pass


def evaluate_in_rollback(**kwargs: Any) -> Evaluation:
    """`evaluate` inside a transaction that is always rolled back: the corpus
    rows never reach the database (the index keeps its documents)."""
    outcome: list[Evaluation] = []
    try:
        with transaction.atomic():
            outcome.append(evaluate(**kwargs))
            raise _Rollback
    except _Rollback:
        pass
    return outcome[0]


def format_report(report: Evaluation, *, worst: int = 10, top: int = 5) -> str:
    """A plain-text report: the mean, the mean per group, the worst queries."""
    lines = [
        f"nDCG@{report.k} over {len(report.queries)} queries, {report.indexed} listings: "
        f"mean {report.mean:.4f}",
        "",
        "by group:",
    ]
    for group, value in report.by_group().items():
        count = sum(1 for q in report.queries if q.group == group)
        lines.append(f"  {group:<16} {value:.4f}  ({count} queries)")
    if worst:
        lines += ["", f"{min(worst, len(report.queries))} worst queries:"]
        for q in report.worst(worst):
            shown = {k: v for k, v in q.params.items() if k != "q"}
            extra = f"  {json.dumps(shown, ensure_ascii=False)}" if shown else ""
            lines.append(f"  {q.ndcg:.4f}  {q.id}: {q.params.get('q', '')!r}{extra}")
            for rank, hit in enumerate(q.hits[:top], start=1):
                lines.append(f"      {rank:>2}. [{hit.grade}] {hit.title}")
            if q.missed:
                missed = ", ".join(f"{key} ({grade})" for key, grade in q.missed[:4])
                more = f" and {len(q.missed) - 4} more" if len(q.missed) > 4 else ""
                lines.append(f"      not in the top {report.k}: {missed}{more}")
    if report.problems:
        lines += ["", "problems in the test set:"] + [f"  {p}" for p in report.problems]
    return "\n".join(lines)
