"""Relevance: nDCG@10 of the judged test set (search/relevance) on a real osmem."""

from __future__ import annotations

import math

import pytest

from listings.models import Listing
from search.relevance.evaluate import (
    check_judgments,
    evaluate_in_rollback,
    format_report,
    load_corpus,
    load_judgments,
    ndcg_at_k,
)

TARGET = 0.85


def test_ndcg_is_one_for_the_ideal_ranking_and_discounts_by_rank():
    assert ndcg_at_k([3, 2, 0], [3, 2]) == 1.0
    # Swapping the two relevant items: (1/1 + 7/log2(3)) / (7/1 + 3/log2(3)).
    swapped = (3 / 1 + 7 / math.log2(3)) / (7 / 1 + 3 / math.log2(3))
    assert ndcg_at_k([2, 3], [3, 2]) == pytest.approx(swapped)
    # A relevant item the engine never returned still counts in the ideal.
    assert ndcg_at_k([3], [3, 3]) == pytest.approx(7 / (7 + 7 / math.log2(3)))
    assert ndcg_at_k([0] * 10 + [3], [3]) == 0.0


def test_the_test_set_is_big_enough_and_consistent(db):
    corpus, judgments = load_corpus(), load_judgments()
    from listings.models import Category

    parents = {c.slug: (c.parent.slug if c.parent else None) for c in Category.objects.all()}

    assert len(corpus) >= 150
    assert len(judgments) >= 40
    assert check_judgments(corpus, judgments, category_parents=parents) == []


@pytest.mark.django_db
def test_mean_ndcg_at_10_reaches_the_target(search_url, settings, capsys):
    settings.ELASTICSEARCH_INDEX_PREFIX = "relevance-test"

    report = evaluate_in_rollback()

    with capsys.disabled():
        print("\n" + format_report(report, worst=5, top=3))
    assert report.problems == []
    assert report.indexed == len(load_corpus())
    assert not Listing.objects.exists()  # the corpus rows were rolled back
    assert report.mean >= TARGET, f"mean nDCG@10 {report.mean:.4f} is below {TARGET}"
