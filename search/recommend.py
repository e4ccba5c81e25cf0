"""Item-item co-occurrence recommender behind the "for you" feed.

Two listings are similar when the same people look at both: for every pair of
items in a session (a signed-in user's interest events over the window, or an
anonymous visitor's day) the pair count goes up by one, and the score is the
cosine ``co(a, b) / sqrt(n(a) * n(b))`` (n = sessions containing the item),
so a hugely popular listing does not become everyone's neighbour. Each item
keeps its best `max_neighbours`.

A user's candidates are the neighbours of what they looked at, weighted by
how strong the signal was (a favourite or an offer outweighs a view) and how
recent (the last items count most). The same class is used by the Celery
refresh (sessions from the event log, neighbours stored in
`analytics.ItemSimilarity`) and by `manage.py recommend_evaluate` (generated
sessions, in memory), so the figure the command prints is the figure of the
code that serves the feed.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

SESSION_CAP = 60  # the last N items of a session: bounds the pair count at N^2/2
RECENCY = 0.85  # weight of the k-th most recent history item: RECENCY**k


class CooccurrenceModel:
    def __init__(self, *, max_neighbours: int = 50, min_count: int = 1) -> None:
        self.max_neighbours = max_neighbours
        self.min_count = min_count
        self.table: dict[Hashable, list[tuple[Hashable, float]]] = {}

    def fit(self, sessions: Iterable[Sequence[Hashable]]) -> CooccurrenceModel:
        item_count: Counter[Hashable] = Counter()
        pairs: dict[Hashable, Counter[Hashable]] = defaultdict(Counter)
        for session in sessions:
            items = list(dict.fromkeys(session))[-SESSION_CAP:]
            item_count.update(items)
            for i, a in enumerate(items):
                for b in items[i + 1:]:
                    pairs[a][b] += 1
                    pairs[b][a] += 1
        table: dict[Hashable, list[tuple[Hashable, float]]] = {}
        for a, counts in pairs.items():
            scored = [
                (b, c / math.sqrt(item_count[a] * item_count[b]))
                for b, c in counts.items()
                if c >= self.min_count
            ]
            scored.sort(key=lambda x: (-x[1], str(x[0])))
            table[a] = scored[: self.max_neighbours]
        self.table = table
        return self

    def rows(self) -> Iterable[tuple[Hashable, Hashable, float]]:
        for a, neighbours in self.table.items():
            for b, score in neighbours:
                yield a, b, score


def score_candidates(
    history: Sequence[tuple[Hashable, float]],
    neighbours: dict[Hashable, list[tuple[Hashable, float]]],
) -> dict[Hashable, float]:
    """Sum of neighbour scores over the history (most recent first), each
    item weighted by its signal strength and recency."""
    scores: dict[Hashable, float] = defaultdict(float)
    seen: set[Hashable] = set()
    rank = 0
    for item, weight in history:
        if item in seen:
            continue
        seen.add(item)
        w = weight * (RECENCY**rank)
        rank += 1
        for other, s in neighbours.get(item, ()):
            scores[other] += w * s
    for item in seen:
        scores.pop(item, None)
    return scores


def recommend(
    history: Sequence[tuple[Hashable, float]],
    neighbours: dict[Hashable, list[tuple[Hashable, float]]],
    *,
    k: int,
    exclude: set[Hashable] | None = None,
    fallback: Iterable[Hashable] = (),
) -> list[Hashable]:
    """The top `k` items for a history: co-occurrence first, then `fallback`
    (e.g. same category and price band, then popular) to fill up."""
    exclude = set(exclude or ()) | {item for item, _ in history}
    scores = score_candidates(history, neighbours)
    ranked = [i for i, _ in sorted(scores.items(), key=lambda x: (-x[1], str(x[0])))]
    out: list[Hashable] = []
    for item in [*ranked, *fallback]:
        if item not in exclude and item not in out:
            out.append(item)
            if len(out) == k:
                break
    return out


def refresh(*, days: int = 90) -> int:
    """Rebuild the stored similarity table from the event log; returns rows."""
    from marketplace.analytics import selectors as analytics_selectors
    from marketplace.analytics import services as analytics_services

    sessions = analytics_selectors.interest_sessions(days=days)
    model = CooccurrenceModel().fit(sessions)
    count = analytics_services.similarities_replace(rows=model.rows())
    logger.info("recommendations: %d sessions -> %d similarity rows", len(sessions), count)
    return count


def history_weights(rows: Iterable[tuple[Any, str]]) -> list[tuple[Any, float]]:
    """(listing_id, kind) rows, most recent first -> (listing_id, weight)."""
    from marketplace.analytics.selectors import INTEREST_WEIGHTS

    return [(item, INTEREST_WEIGHTS.get(kind, 1.0)) for item, kind in rows]
