"""Offline evaluation of the recommender on generated browsing sessions.

The world: items in categories, each category split into price bands, item
popularity Zipf-distributed. Every user has one or two latent interests (a
category and a price band); a session is mostly items from those interests,
some from the rest of the category, a few globally popular ones. The last
interaction of every user is held out; the model is fit on everything else
and asked for 10 items per user. Hit-rate@10 is the share of users whose
held-out item is among them. The popularity baseline recommends the most
interacted-with items the user has not seen, on the same split.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from search.recommend import CooccurrenceModel, recommend

K = 10


@dataclass
class World:
    items: list[int]
    category: dict[int, int]
    groups: dict[tuple[int, int], list[int]]
    by_category: dict[int, list[int]]
    weight: dict[int, float]


@dataclass
class Result:
    users: int
    items: int
    interactions: int
    hit_rate_recommender: float
    hit_rate_popularity: float
    hit_rate_no_category_fallback: float


def make_world(rng: random.Random, *, n_items: int, n_categories: int = 12,
               n_bands: int = 4) -> World:
    items = list(range(n_items))
    ranks = items[:]
    rng.shuffle(ranks)
    weight = {i: 1.0 / (ranks[i] + 1) ** 0.8 for i in items}
    category = {i: rng.randrange(n_categories) for i in items}
    groups: dict[tuple[int, int], list[int]] = {}
    by_category: dict[int, list[int]] = {}
    for i in items:
        groups.setdefault((category[i], rng.randrange(n_bands)), []).append(i)
        by_category.setdefault(category[i], []).append(i)
    return World(items, category, groups, by_category, weight)


def make_sessions(rng: random.Random, world: World, *, n_users: int) -> list[list[int]]:
    keys = sorted(world.groups)

    def pick(pool: list[int]) -> int:
        return rng.choices(pool, weights=[world.weight[i] for i in pool])[0]

    sessions = []
    for _ in range(n_users):
        interests = rng.sample(keys, rng.choice((1, 1, 2)))
        length = rng.randint(4, 20)
        session: list[int] = []
        tries = 0
        while len(session) < length and tries < length * 10:
            tries += 1
            roll = rng.random()
            cat, band = rng.choice(interests)
            if roll < 0.75:
                item = pick(world.groups[(cat, band)])
            elif roll < 0.9:
                item = pick(world.by_category[cat])
            else:
                item = pick(world.items)
            if item not in session:
                session.append(item)
        sessions.append(session)
    return sessions


def evaluate(*, n_users: int = 2000, n_items: int | None = None, seed: int = 1,
             progress: Callable[[str], None] | None = None) -> Result:
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not a secret
    world = make_world(rng, n_items=n_items or max(200, n_users // 2))
    sessions = make_sessions(rng, world, n_users=n_users)
    train = [s[:-1] for s in sessions]
    held_out = [s[-1] for s in sessions]
    if progress:
        progress(f"{n_users} users, {len(world.items)} items, "
                 f"{sum(len(s) for s in sessions)} interactions; fitting...")

    model = CooccurrenceModel().fit(train)
    counts = Counter(i for s in train for i in s)
    popular = [i for i, _ in counts.most_common()]
    category_popular: dict[int, list[int]] = {}
    for item in popular:
        category_popular.setdefault(world.category[item], []).append(item)

    hits = {"rec": 0, "pop": 0, "cooc": 0}
    for history_items, target in zip(train, held_out, strict=True):
        history = [(i, 1.0) for i in reversed(history_items)]  # most recent first
        seen = set(history_items)
        top_categories = [c for c, _ in Counter(world.category[i] for i in seen).most_common(2)]
        # The feed's fallback: popular in the user's categories, then popular overall.
        fallback = [i for c in top_categories for i in category_popular.get(c, [])[:K]]
        recs = recommend(history, model.table, k=K, fallback=[*fallback, *popular])
        cooc = recommend(history, model.table, k=K, fallback=popular)
        base = [i for i in popular if i not in seen][:K]
        hits["rec"] += target in recs
        hits["cooc"] += target in cooc
        hits["pop"] += target in base
    return Result(
        users=n_users,
        items=len(world.items),
        interactions=sum(len(s) for s in sessions),
        hit_rate_recommender=hits["rec"] / n_users,
        hit_rate_popularity=hits["pop"] / n_users,
        hit_rate_no_category_fallback=hits["cooc"] / n_users,
    )
