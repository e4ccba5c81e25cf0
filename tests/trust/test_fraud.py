"""Fraud classifier: generator, detectors, training, model files, commands, hooks.

One small model is trained once per test process (`trained_model()`, about
1,500 generated listings) and installed as the process's model, so no test
depends on a model file in var/.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from functools import lru_cache

import pytest
from django.core.management import CommandError, call_command

from trust.fraud import checks, data, generator
from trust.fraud import model as fraud_model
from trust.fraud import signals as sig


@lru_cache(maxsize=1)
def trained_model() -> fraud_model.FraudModel:
    return fraud_model.train(samples=1500, seed=0)


@pytest.fixture
def model():
    """The test model, installed as the process's model for the test."""
    trained = trained_model()
    previous = fraud_model.active_model()
    fraud_model.set_model(trained)
    yield trained
    fraud_model.set_model(previous)


def record(
    title, description="", *, price_yuan, category="other", age=400, listings=5, completed=10
):
    return {
        "title": title,
        "description": description,
        "price": {"amount_minor": int(price_yuan * 100), "currency": "CNY"},
        "category": category,
        "seller": {
            "account_age_days": age,
            "listings_count": listings,
            "completed_orders": completed,
        },
    }


SCAM = record(
    "iPhone 15 Pro 256GB",
    "Brand new. Pay by bank transfer first, add my WeChat 1 3 8 0 0 1 3 8 0 0 0",
    price_yuan=320,
    category="phones",
    age=0,
    listings=1,
    completed=0,
)
HONEST_NEW = record(
    "IKEA sofa, three seats",
    "Moving out next month, some wear on the arms. Pickup only.",
    price_yuan=800,
    category="furniture",
    age=0,
    listings=1,
    completed=0,
)


# --- generator ------------------------------------------------------------------------------


def test_generator_covers_every_pattern_in_both_languages():
    rows = generator.generate_listings(1200, seed=3)

    seen = {(row["lang"], pattern) for row in rows for pattern in row["patterns"]}
    for lang in ("en", "zh"):
        for pattern in (*generator.SCAM_PATTERNS, *generator.HONEST_PATTERNS):
            assert (lang, pattern) in seen, (lang, pattern)
    labels = Counter(row["label"] for row in rows)
    assert 0.3 < labels[1] / len(rows) < 0.55  # scammers post several listings each
    assert all(row["seller_id"] and row["price"]["amount_minor"] > 0 for row in rows)
    assert all(data.validate_listing(row) for row in rows)  # the fraud_score shape


def test_generator_hides_contacts_and_is_reproducible():
    rows = generator.generate_listings(1500, seed=5)
    text = " ".join(r["description"] for r in rows)

    assert "\u20e3" in text  # keycap digits
    assert any(ch in text for ch in "аеорсх")  # Cyrillic homoglyphs
    assert re.search("[零一二三四五六七八九]{11}", text)  # a phone as Chinese numerals
    assert re.search(r"\d( \d){10}", text)  # spaced digits
    assert generator.generate_listings(50, seed=9) == generator.generate_listings(50, seed=9)
    messages = generator.generate_messages(300, seed=1)
    assert {m["lang"] for m in messages} == {"en", "zh"}
    assert {m["label"] for m in messages} == {0, 1}


# --- detectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("微 信: a b c 1 2 3", "contact_app"),
        ("0 1 7 6 - 1 2 3", "phone_number"),
        ("tele gram @x", "contact_app"),
        ("WеChat (Cyrillic e): deal_88", "contact_app"),
        ("1️⃣3️⃣8️⃣0️⃣0️⃣1️⃣3️⃣8️⃣0️⃣0️⃣0️⃣", "phone_number"),
        ("电话 一三八零零一三八零零零", "phone_number"),
        ("call 1🔥3🔥8🔥0🔥0🔥1🔥3🔥8🔥0🔥0🔥0", "phone_number"),
        ("１３８００１３８０００", "phone_number"),
        ("mail me: lily88 (at) gmail dot com", "email_address"),
        ("加我薇信 lily_2024", "contact_app"),
        ("PayPal friends and family only", "off_platform_payment"),
        ("支付宝直接转我，不走平台", "off_platform_payment"),
        ("confirm the order at http://xianyu-secure-pay.top/8812", "phishing"),
    ],
)
def test_obfuscated_contacts_and_payments_are_detected(text, code):
    assert code in sig.chat_codes(sig.detect(text))


@pytest.mark.parametrize(
    "text",
    [
        "No bank transfers please, pay through the app only.",
        "不接受私下转账，支持平台担保交易。",
        "Shipped! Tracking number SF1234567890.",
        "Used it in 2019 2020, size 12 x 30 x 45 cm.",
        "Is it still available? Can you do 300?",
        "还在吗？明天下午可以当面交易吗",
    ],
)
def test_hard_negatives_raise_no_signal(text):
    assert sig.chat_codes(sig.detect(text)) == []


# --- training, metrics, scoring -------------------------------------------------------------


def test_training_reports_held_out_metrics_above_thresholds():
    trained = trained_model()
    listings, messages = trained.metrics["listings"], trained.metrics["messages"]

    assert listings["roc_auc"] > 0.95
    assert listings["pr_auc"] > 0.93
    assert listings["at_threshold"]["precision"] > 0.9
    assert listings["at_threshold"]["recall"] > 0.7
    assert set(listings["at_threshold"]["confusion"]) == {"tp", "fp", "fn", "tn"}
    assert messages["roc_auc"] > 0.9
    assert trained.info["sklearn_version"]


def test_split_keeps_each_seller_on_one_side():
    rows = generator.generate_listings(600, seed=1)
    labels = [r["label"] for r in rows]
    groups = [r["seller_id"] for r in rows]

    train, test = fraud_model.split_by_group(labels, groups, seed=0)

    assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert 0.15 < len(test) / len(rows) < 0.25
    share = sum(labels[i] for i in test) / len(test)
    assert abs(share - sum(labels) / len(labels)) < 0.08


def test_fast_scoring_matches_the_pipeline(model):
    records = [SCAM, HONEST_NEW, *generator.generate_listings(20, seed=11)]

    fast = [s.score for s in model.score_records(records)]
    slow = model.listing_pipeline.predict_proba(records)[:, 1]

    assert fast == pytest.approx(list(slow), abs=1e-3)


def test_blatant_scam_scores_high_with_reasons_and_fair_new_listing_low(model):
    scam, honest = model.score_records([SCAM, HONEST_NEW])

    assert scam.score > 0.8
    assert "asks for payment outside the platform" in scam.reasons
    assert any(r.startswith("contact details (phone") for r in scam.reasons)
    assert any(r.startswith("price ") and "below" in r for r in scam.reasons)
    assert honest.score < 0.3


def test_model_file_round_trips_and_reports_version_mismatch(model, tmp_path):
    path = model.save(tmp_path)
    assert path.name == f"fraud-{model.version}.joblib"
    assert json.loads(path.with_suffix(".json").read_text())["metrics"] == model.metrics

    loaded = fraud_model.FraudModel.load(path)
    assert loaded.version == model.version
    assert [s.score for s in loaded.score_records([SCAM, HONEST_NEW])] == [
        s.score for s in model.score_records([SCAM, HONEST_NEW])
    ]
    assert fraud_model.model_file(tmp_path) == path

    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "sklearn_version": "0.24.2"}))
    with pytest.raises(fraud_model.FraudModelError, match=r"scikit-learn 0\.24\.2.*fraud_train"):
        fraud_model.FraudModel.load(path)

    sidecar.write_text(json.dumps(meta))
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(fraud_model.FraudModelError, match="SHA-256"):
        fraud_model.FraudModel.load(path)


def test_first_use_without_a_file_trains_a_small_model(settings, tmp_path, monkeypatch):
    settings.FRAUD_MODEL_PATH = str(tmp_path / "nothing-here")
    monkeypatch.setattr(fraud_model, "FIRST_USE_SAMPLES", 400)
    previous = fraud_model.active_model()
    fraud_model.set_model(None)
    try:
        built = fraud_model.get_model()
        assert built.version.startswith("builtin-")
        assert fraud_model.get_model() is built  # cached
        assert built.score_records([SCAM])[0].score > 0.5
    finally:
        fraud_model.set_model(previous)


@pytest.mark.django_db
def test_import_path_and_decisions():
    # No moderator decisions yet (moderation's label source finds none).
    assert data.training_rows_from_decisions() == []
    assert data.training_rows_from_decisions.__doc__


def test_label_sources_are_validated_and_grouped_by_seller(monkeypatch):
    monkeypatch.setattr(data, "_label_sources", {})
    data.register_label_source(
        lambda: [{**SCAM, "label": 1, "seller_id": 3}, {"title": "no label"}], name="test"
    )
    rows = data.training_rows_from_decisions()
    assert [r["label"] for r in rows] == [1]
    assert rows[0]["seller_id"] == "moderation-3"


def test_load_training_file_names_the_bad_line(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({**SCAM, "label": 1, "seller_id": 7})
        + "\n\n"
        + json.dumps({"text": "add my wechat", "label": "scam"})
        + "\n"
    )
    rows = data.load_training_file(good)
    assert [r["label"] for r in rows] == [1, 1]
    assert rows[0]["seller_id"] == "import-7"

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**SCAM, "label": 1}) + "\n" + json.dumps(SCAM) + "\n")
    with pytest.raises(data.RecordError, match=r"line 2: .*label"):
        data.load_training_file(bad)


@pytest.mark.django_db  # reads moderators' decisions
def test_fraud_train_command_saves_model_and_prints_metrics(tmp_path):
    extra = tmp_path / "labelled.jsonl"
    extra.write_text(
        "\n".join(
            json.dumps({**r, "label": r["label"]}) for r in generator.generate_listings(40, seed=42)
        )
    )
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "fraud_train",
        "--samples",
        "300",
        "--seed",
        "1",
        "--import",
        str(extra),
        "--output",
        str(tmp_path / "models"),
        stdout=out,
        stderr=err,
    )

    assert "ROC AUC" in out.getvalue() and "precision" in out.getvalue()
    assert "+ 40 imported rows" in err.getvalue()
    (saved,) = (tmp_path / "models").glob("fraud-*.joblib")
    assert fraud_model.FraudModel.load(saved).info["imported_rows"] == 40


@pytest.mark.django_db  # reads moderators' decisions
def test_fraud_train_command_rejects_a_bad_import_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(CommandError, match="line 1"):
        call_command("fraud_train", "--import", str(bad), "--samples", "300")


# --- fraud_score command --------------------------------------------------------------------


def test_fraud_score_round_trip_keeps_order(model, tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [
        HONEST_NEW,
        SCAM,
        record("Uniqlo down jacket", "Warm, size M.", price_yuan=200, category="clothing"),
    ]
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    out = io.StringIO()

    call_command("fraud_score", "--input", str(source), stdout=out)

    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(results) == 3
    assert all(0 <= r["score"] <= 1 and isinstance(r["reasons"], list) for r in results)
    assert results[1]["score"] > 0.8 > results[0]["score"]
    assert results[2]["score"] < 0.5
    assert results[1]["reasons"]


def test_fraud_score_reports_bad_lines_by_number_and_scores_the_rest(model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps(HONEST_NEW),
                "{oops",
                json.dumps({**SCAM, "price": {"amount_minor": "5"}}),
                json.dumps(SCAM),
            ]
        )
        + "\n"
    )
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("fraud_score", "--input", str(source), stdout=out, stderr=err)

    assert raised.value.returncode == 2
    assert "line 2: invalid JSON" in err.getvalue()
    assert "line 3: price.amount_minor must be a whole number" in err.getvalue()
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["score"] is None for r in results] == [False, True, True, False]
    assert results[3]["score"] > 0.8


def test_fraud_score_workers_keep_input_order_across_batches(model, tmp_path, monkeypatch):
    from trust.management.commands import fraud_score

    monkeypatch.setattr(fraud_score, "BATCH", 4)  # several batches for a few lines
    rows = generator.generate_listings(30, seed=11)
    lines = [json.dumps(data.validate_listing(r), ensure_ascii=False) for r in rows]
    lines.insert(7, "not json")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")

    outputs = {}
    for jobs in ("1", "2"):
        out, err = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError):
            call_command("fraud_score", "--input", str(source), "--jobs", jobs,
                         stdout=out, stderr=err)
        assert "line 8: invalid JSON" in err.getvalue()
        outputs[jobs] = [json.loads(line) for line in out.getvalue().splitlines()]

    assert outputs["1"] == outputs["2"]
    assert len(outputs["2"]) == 31 and outputs["2"][7]["score"] is None
    expected = model.score_records([data.validate_listing(r) for r in rows])
    scored = [r for r in outputs["2"] if r["score"] is not None]
    assert [r["score"] for r in scored] == [s.score for s in expected]


def test_fraud_score_missing_file_is_a_clear_error():
    with pytest.raises(CommandError, match="Cannot read") as raised:
        call_command("fraud_score", "--input", "/nonexistent/file.jsonl")
    assert raised.value.returncode == 2


# --- hooks: publish check, message check ------------------------------------------------------


@pytest.fixture
def make_listing(db):
    from tests.factories import UserFactory
    from tests.listings.factories import ListingFactory, category

    def make(*, title, description, price_yuan, slug="other", attributes=None, seller=None):
        return ListingFactory(
            seller=seller or UserFactory(),
            category=category(slug),
            title=title,
            description=description,
            price_minor=int(price_yuan * 100),
            attributes=attributes or {},
        )

    return make


PHONE_ATTRIBUTES = {"brand": "Apple", "model": "iPhone 15 Pro", "storage": "256GB"}


def test_checks_are_registered_at_start_up():
    from chat import safety
    from listings import services

    assert services._publish_checks[checks.PUBLISH_CHECK_NAME] is checks.publish_check
    assert safety.message_checks()[checks.MESSAGE_CHECK_NAME] is checks.message_check
    assert "rules" not in safety.message_checks()  # subsumed


def test_fair_listing_from_brand_new_account_publishes_active(model, make_listing, settings):
    from listings import services

    settings.FRAUD_HOLD_THRESHOLD = 0.8
    listing = make_listing(
        title="IKEA sofa, three seats",
        description="Moving out next month, some wear. Pickup only.",
        price_yuan=800,
        slug="furniture",
        attributes={"type": "sofa"},
    )

    published = services.listing_publish(listing=listing, actor=listing.seller)

    assert published.status == "active"
    assert published.fraud_score is not None and published.fraud_score < 0.8
    assert published.fraud_reasons[-1] == f"fraud model {model.version}"


def test_blatant_scam_is_held_for_review(model, make_listing, settings):
    from listings import services

    settings.FRAUD_HOLD_THRESHOLD = 0.8
    listing = make_listing(
        title="iPhone 15 Pro 256GB",
        description=SCAM["description"],
        price_yuan=320,
        slug="phones",
        attributes=PHONE_ATTRIBUTES,
    )

    held = services.listing_publish(listing=listing, actor=listing.seller)

    assert held.status == "pending_review"
    assert held.fraud_score > 0.8
    assert "asks for payment outside the platform" in held.fraud_reasons
    assert held.fraud_reasons[-1] == f"fraud model {model.version}"


def test_threshold_above_one_turns_holds_off(model, make_listing, settings):
    from listings import services

    settings.FRAUD_HOLD_THRESHOLD = 1.01
    listing = make_listing(
        title="iPhone 15 Pro 256GB",
        description=SCAM["description"],
        price_yuan=320,
        slug="phones",
        attributes=PHONE_ATTRIBUTES,
    )

    published = services.listing_publish(listing=listing, actor=listing.seller)

    assert published.status == "active"
    assert published.fraud_score > 0.8  # still scored and stored


def test_score_account_uses_the_riskiest_listing(model, make_listing):
    from trust.fraud.scoring import score_account

    scam = make_listing(
        title="iPhone 15 Pro 256GB",
        description=SCAM["description"],
        price_yuan=320,
        slug="phones",
        attributes=PHONE_ATTRIBUTES,
    )
    make_listing(title="Desk lamp", description="Works.", price_yuan=50, seller=scam.seller)

    assert score_account(scam.seller).score > 0.8


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        (
            "Pay me by bank transfer, my number is 1 3 8 0 0 1 3 8 0 0 0",
            {"off_platform_payment", "phone_number"},
        ),
        (
            "加我薇信，电话一三八零零一三八零零零，微信转账就行",
            {"contact_app", "phone_number", "off_platform_payment"},
        ),
        ("Text me on 0 1 7 6 - 1 2 3 4 5 6", {"phone_number"}),
        ("支付宝直接转给我，不走平台便宜点", {"off_platform_payment"}),
    ],
)
def test_message_check_flags_contacts_and_off_platform_payment(model, text, codes):
    verdict = checks.message_check(text, {})

    assert verdict is not None
    assert codes <= set(verdict.reasons)
    assert verdict.score > 0.5
    assert verdict.extra["model_version"] == model.version


@pytest.mark.parametrize(
    "text",
    [
        "Hi, is this still available? Could I pick it up tomorrow at 6pm?",
        "你好，还在吗？能便宜点吗",
        "I've paid through the app, thanks!",
        "不好意思，我不接受私下转账，走平台吧。",
    ],
)
def test_message_check_leaves_ordinary_messages_alone(model, text):
    assert checks.message_check(text, {}) is None


def test_message_check_never_waits_for_training(monkeypatch, settings):
    settings.FRAUD_TRAIN_IN_BACKGROUND = True
    from chat import safety

    started = []
    monkeypatch.setattr(fraud_model, "_active", None)
    monkeypatch.setattr(fraud_model, "model_file", lambda location=None: None)
    monkeypatch.setattr(checks, "_warm_started", False)
    monkeypatch.setattr(
        checks.threading,
        "Thread",
        lambda **kw: type("T", (), {"start": lambda self: started.append(kw)})(),
    )

    verdict = checks.message_check("add my wechat lily_2024, bank transfer only", {})

    assert isinstance(verdict, safety.Verdict)
    assert {"contact_app", "off_platform_payment"} <= set(verdict.reasons)
    assert started and started[0]["target"] is fraud_model.get_model
    assert checks.message_check("see you at 6", {}) is None


# --- seller reputation as a feature -----------------------------------------------------------


def rated(base, *, reputation, reviews):
    return {**base, "seller": {**base["seller"], "reputation": reputation,
                               "reviews_count": reviews}}


BORDERLINE = record(
    "Sony A7 III body",
    "Selling my camera, shipping only, I am travelling for work.",
    price_yuan=4200,
    category="cameras",
    age=900,
    listings=12,
    completed=15,
)


def test_poorly_rated_seller_raises_the_score_and_says_why(model):
    poor, good = model.score_records([
        rated(BORDERLINE, reputation=2.1, reviews=9),
        rated(BORDERLINE, reputation=4.9, reviews=9),
    ])

    assert poor.score > good.score
    assert "poor_reputation" in poor.codes
    assert any("seller rated 2.1/5 over 9 reviews" in r for r in poor.reasons)
    assert "poor_reputation" not in good.codes


def test_fraud_score_lines_accept_an_optional_reputation():
    line = rated(HONEST_NEW, reputation=4.5, reviews=3)
    assert data.validate_listing(line)["seller"]["reputation"] == 4.5
    assert "reputation" not in data.validate_listing(HONEST_NEW)["seller"]
    with pytest.raises(data.RecordError, match="seller.reputation must be a number from 1 to 5"):
        data.validate_listing(rated(HONEST_NEW, reputation=7, reviews=3))


@pytest.mark.django_db
def test_seller_figures_carry_the_review_score_once_rated(user):
    from django.utils import timezone

    from trust.fraud.scoring import seller_figures
    from trust.reputation_models import Reputation

    assert "reputation" not in seller_figures(user)  # nobody reviewed them yet

    Reputation.objects.create(user=user, weighted_sum=2.0 * 6, weight_total=6.0,
                              decay_anchor=timezone.now(), reviews=6)
    figures = seller_figures(user)

    assert figures["reviews_count"] == 6
    assert 1.0 <= figures["reputation"] < 3.5  # six two-star reviews against the prior
