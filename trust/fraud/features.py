"""Feature extraction: records -> one table the ColumnTransformer splits.

`RecordFeatures` turns each record (the `fraud_score` line shape, or a chat
message `{"text"}`) into a row: column 0 is the normalised text for the two
TF-IDF vectorisers, the other columns are numbers (price ratio, seller
figures, rule signals and a few interactions). In `fit` it learns the
reference prices: the median price per category and per known product
("iphone 15 pro", "戴森", ...), from the honest training rows when labels
are given. Those medians live inside the fitted pipeline, so they are saved
with the model and scoring never needs the database.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from trust.fraud import signals as sig

# Products people look up by name: the key groups listings for "similar listings".
PRODUCTS: list[tuple[str, str]] = [
    ("iphone-15", r"iphone\s*15|苹果\s*15"), ("iphone-14", r"iphone\s*14|苹果\s*14"),
    ("iphone-13", r"iphone\s*13|苹果\s*13"), ("iphone", r"iphone|苹果手机"),
    ("mate-60", r"mate\s*60"), ("galaxy-s", r"galaxy\s*s\d+"),
    ("macbook-pro", r"macbook\s*pro"), ("macbook-air", r"macbook\s*air"),
    ("macbook", r"macbook"), ("ipad-pro", r"ipad\s*pro"), ("ipad", r"ipad"),
    ("thinkpad-x1", r"thinkpad\s*x1"), ("xps", r"\bxps\b"),
    ("sony-a7", r"a7\s*(iii|iv|m3|m4)|a7m\d"),
    ("canon-r", r"eos\s*r\d"), ("x100", r"x100"), ("gopro", r"gopro"),
    ("brompton", r"brompton|小布"), ("aeron", r"aeron"),
    ("canada-goose", r"canada\s*goose|加拿大鹅"),
    ("burberry", r"burberry|巴宝莉"), ("arcteryx", r"arc'?teryx|始祖鸟"),
    ("jordan", r"jordan|aj1|乔丹"), ("yeezy", r"yeezy|椰子"), ("switch", r"switch"),
    ("ps5", r"ps5|playstation\s*5"), ("airwrap", r"airwrap"), ("dyson", r"dyson|戴森"),
    ("garmin", r"garmin|佳明"), ("fender", r"fender|芬达"), ("roland", r"roland|罗兰"),
    ("bugaboo", r"bugaboo"), ("airpods", r"airpods"), ("apple-watch", r"apple\s*watch"),
    ("rolex", r"rolex|劳力士"), ("lv", r"louis\s*vuitton|路易威登"),
]
_PRODUCT_RE = re.compile(
    "|".join(f"(?P<p{i}>{pattern})" for i, (_, pattern) in enumerate(PRODUCTS))
)
MIN_PRODUCT_SAMPLES = 5
NEW_ACCOUNT_DAYS = 7

LISTING_NUMERIC = [
    "log_price_ratio", "cheap_50", "cheap_25", "cheap_10", "premium_cheap", "log_price",
    "log_account_age", "new_account", "log_listings", "log_completed", "no_history",
    "velocity", "burst_high_value", "new_and_signal", "new_and_cheap", "signal_count",
    "log_reviews", "rep_good", "rep_poor",
    *[f"sig_{name}" for name in sig.SIGNAL_NAMES],
]
GOOD_REPUTATION = 4.5
POOR_REPUTATION = 3.5
MESSAGE_NUMERIC = ["signal_count", *[f"sig_{name}" for name in sig.SIGNAL_NAMES]]


def product_key(normalised: str) -> str | None:
    """The known product a (normalised) title names, if any."""
    match = _PRODUCT_RE.search(normalised)
    if match is None or match.lastgroup is None:
        return None
    return PRODUCTS[int(match.lastgroup[1:])][0]


def model_text(normalised: str) -> str:
    """The text the vectorisers see: digits folded to 0 so numbers generalise."""
    return re.sub(r"\d", "0", normalised)


@dataclass
class ListingFacts:
    """What the featurizer worked out for one listing (used for the reasons too)."""

    signals: sig.Signals
    price_yuan: float
    reference_yuan: float | None
    reference_kind: str  # "similar listings" | "category median" | "all listings"
    ratio: float | None
    account_age_days: int
    listings_count: int
    completed_orders: int
    reputation: float | None = None  # the seller's review score (1-5), when rated
    reviews_count: int = 0

    @property
    def rated_poorly(self) -> bool:
        return self.reputation is not None and self.reviews_count >= 2 \
            and self.reputation < POOR_REPUTATION

    @property
    def burst(self) -> bool:
        return (
            self.account_age_days <= NEW_ACCOUNT_DAYS
            and self.listings_count >= 8
            and ((self.reference_yuan or 0) >= 1000 or bool(self.signals.premium))
        )


class RecordFeatures(TransformerMixin, BaseEstimator):
    """records -> object array [text, numbers...] (see the module docstring)."""

    def __init__(self, kind: str = "listing") -> None:
        self.kind = kind

    # -- fitting: reference prices --
    def fit(self, X: list[dict[str, Any]], y: Any = None) -> RecordFeatures:  # noqa: N803
        if self.kind != "listing":
            self.category_median_ = {}
            self.product_median_ = {}
            self.global_median_ = 0.0
            return self
        labels = list(y) if y is not None else [0] * len(X)
        by_category: dict[str, list[float]] = defaultdict(list)
        by_product: dict[str, list[float]] = defaultdict(list)
        everything: list[float] = []
        for record, label in zip(X, labels, strict=True):
            if label:
                continue  # scams' prices would drag the reference down
            price = price_yuan(record)
            if price <= 0:
                continue
            everything.append(price)
            by_category[str(record.get("category") or "other")].append(price)
            key = product_key(sig.normalise(str(record.get("title") or "")))
            if key:
                by_product[key].append(price)
        self.global_median_ = float(median(everything)) if everything else 0.0
        self.category_median_ = {k: float(median(v)) for k, v in by_category.items()}
        self.product_median_ = {
            k: float(median(v)) for k, v in by_product.items() if len(v) >= MIN_PRODUCT_SAMPLES
        }
        return self

    def reference(self, record: dict[str, Any], normalised_title: str) -> tuple[float | None, str]:
        key = product_key(normalised_title)
        if key and key in self.product_median_:
            return self.product_median_[key], "similar listings"
        category = str(record.get("category") or "other")
        if category in self.category_median_:
            return self.category_median_[category], "category median"
        return (self.global_median_ or None), "all listings"

    def facts(self, record: dict[str, Any]) -> ListingFacts:
        title = str(record.get("title") or "")
        text = f"{title}\n{record.get('description') or ''}"
        found = sig.detect(text)
        seller = record.get("seller") or {}
        price = price_yuan(record)
        reference, kind = self.reference(record, sig.normalise(title))
        ratio = price / reference if reference and price > 0 else None
        return ListingFacts(
            signals=found, price_yuan=price, reference_yuan=reference, reference_kind=kind,
            ratio=ratio, account_age_days=_int(seller.get("account_age_days")),
            listings_count=_int(seller.get("listings_count")),
            completed_orders=_int(seller.get("completed_orders")),
            reputation=_reputation(seller.get("reputation")),
            reviews_count=_int(seller.get("reviews_count")),
        )

    # -- transforming --
    def transform(self, X: list[dict[str, Any]]) -> np.ndarray:  # noqa: N803
        return self.table(X)[0]

    def table(self, X: list[dict[str, Any]]  # noqa: N803
              ) -> tuple[np.ndarray, list[ListingFacts | sig.Signals]]:
        """(the feature table, the facts or signals of each record)."""
        names = LISTING_NUMERIC if self.kind == "listing" else MESSAGE_NUMERIC
        out = np.empty((len(X), 1 + len(names)), dtype=object)
        seen: list[ListingFacts | sig.Signals] = []
        for i, record in enumerate(X):
            if self.kind == "listing":
                facts = self.facts(record)
                found = facts.signals
                numbers = self.listing_numbers(facts)
                seen.append(facts)
            else:
                found = sig.detect(str(record.get("text") or ""))
                numbers = message_numbers(found)
                seen.append(found)
            out[i, 0] = model_text(found.text)
            out[i, 1:] = numbers
        return out, seen

    @staticmethod
    def listing_numbers(f: ListingFacts) -> list[float]:
        s = f.signals
        ratio = f.ratio if f.ratio is not None else 1.0
        new = float(f.account_age_days < NEW_ACCOUNT_DAYS)
        off_platform = float(bool(s.payment or s.contact_app or s.contact_handle or s.phone
                                  or s.email or s.link or s.deposit))
        cheap_35 = float(ratio < 0.35)
        counted = (s.payment, s.deposit, s.abroad, s.counterfeit, s.contact_app or s.phone,
                   s.email, s.phishing)
        values = [
            max(-4.0, min(2.0, math.log(max(ratio, 1e-4)))),
            float(ratio < 0.5), float(ratio < 0.25), float(ratio < 0.1),
            float(bool(s.premium) and ratio < 0.4),
            math.log10(f.price_yuan + 1),
            math.log1p(f.account_age_days), new, math.log1p(f.listings_count),
            math.log1p(f.completed_orders), float(f.completed_orders == 0),
            math.log1p(f.listings_count / (f.account_age_days + 1)), float(f.burst),
            new * off_platform, new * cheap_35, float(sum(bool(c) for c in counted)),
            math.log1p(f.reviews_count),
            float(f.reputation is not None and f.reviews_count >= 3
                  and f.reputation >= GOOD_REPUTATION),
            float(f.rated_poorly),
            *s.as_vector(),
        ]
        return values


def message_numbers(s: sig.Signals) -> list[float]:
    counted = (s.payment, s.deposit, s.abroad, s.counterfeit, s.contact_app or s.phone,
               s.email, s.phishing)
    return [float(sum(bool(c) for c in counted)), *s.as_vector()]


def price_yuan(record: dict[str, Any]) -> float:
    price = record.get("price") or {}
    amount = price.get("amount_minor") if isinstance(price, dict) else None
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return 0.0
    return max(0.0, float(amount) / 100.0)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def _reputation(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 5:
        return None
    return float(value)
