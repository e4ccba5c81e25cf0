"""The offline evaluation command and the co-occurrence model it measures."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from search.recommend import CooccurrenceModel, recommend


@pytest.mark.parametrize("seed", [1, 2])
def test_recommender_beats_popularity_baseline_on_held_out_sessions(seed):
    out = io.StringIO()

    call_command("recommend_evaluate", users=300, seed=seed, stdout=out)

    text = out.getvalue()
    rec = float(re.search(r"hit-rate@10 recommender[^:]*: ([0-9.]+)", text).group(1))
    pop = float(re.search(r"hit-rate@10 popularity baseline: +([0-9.]+)", text).group(1))
    assert 0 <= pop < rec <= 1
    assert rec > pop * 1.5


def test_cosine_keeps_a_popular_item_from_being_everyones_neighbour():
    # "hit" is in every session; "lens" only ever with "camera".
    sessions = [["camera", "lens", "hit"]] * 3 + [["hit", f"x{i}"] for i in range(30)]

    model = CooccurrenceModel().fit(sessions)

    assert model.table["camera"][0][0] == "lens"
    assert recommend([("camera", 1.0)], model.table, k=1) == ["lens"]


def test_recommend_never_returns_history_or_excluded_items():
    model = CooccurrenceModel().fit([["a", "b", "c", "d"]] * 2)

    got = recommend([("a", 1.0), ("b", 1.0)], model.table, k=5, exclude={"c"}, fallback=["e"])

    assert got == ["d", "e"]
