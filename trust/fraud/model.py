"""The fraud model: training, held-out metrics, saving, loading, scoring, reasons.

Model choice. Two scikit-learn Pipelines (listings, chat messages) of the
same shape::

    RecordFeatures -> ColumnTransformer(
        char 2-4-gram TF-IDF (char_wb; works for Chinese without a tokenizer),
        word 1-2-gram TF-IDF,
        StandardScaler on the numeric features (price ratio, seller, signals)
    ) -> CalibratedClassifierCV(LogisticRegression, sigmoid, 3 folds)

Why a linear model and not gradient boosting: the text side is ~60,000
sparse columns, where a regularised logistic regression trains in a second
or two on a couple of cores and scores a listing in well under a
millisecond, while tree ensembles on sparse TF-IDF are slow and need the
text squeezed first. Logistic regression optimises log-loss, so its
probabilities are close to calibrated already; a sigmoid (Platt) step fitted
on cross-validated predictions corrects what the regularisation bends.
Every score also decomposes exactly into per-feature contributions
(coefficient x scaled value), which is what the reasons are built from: no
SHAP, no approximation. The interactions a tree would find by itself are
written as features instead ("new account AND off-platform signal", "new
account AND price far below", "new account with many high-value listings"),
so a brand-new account on its own barely moves the score (selling must work
from the first day).

Held-out evaluation: a stratified split grouped by seller (a scammer's
listings are all on one side, no leakage), fixed seed, 20% held out. The
saved model is the one measured (not refitted on everything), so the
printed metrics describe the file. Metrics on generated data flatter the
model: the held-out rows come from the same phrase pools as the training
rows. The hand-written cases in tests/trust/test_fraud_handwritten.py are
the more honest yardstick.

Files: `var/models/fraud-<version>.joblib` (setting FRAUD_MODEL_PATH: a file,
or a folder whose newest `fraud-*.joblib` is used) and beside it
`fraud-<version>.json` with the version, metrics, scikit-learn version and
the file's SHA-256. A model written by another scikit-learn version is
refused with a message saying so (pickles do not travel across versions).

First use without a file: `get_model()` trains a small model from the
generator in-process (about two seconds, deterministic, cached for the life
of the process) and logs that `fraud_train` should be run. That keeps holds
working on a fresh checkout instead of silently scoring nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from trust.fraud import generator
from trust.fraud import signals as sig
from trust.fraud.features import (
    LISTING_NUMERIC,
    MESSAGE_NUMERIC,
    ListingFacts,
    RecordFeatures,
)

logger = logging.getLogger(__name__)

FORMAT = 2  # 2: seller reputation features
DEFAULT_SAMPLES = 6000
FIRST_USE_SAMPLES = 2000
DEFAULT_THRESHOLD = 0.8
C = 2.0
SOLVER = "lbfgs"


class FraudModelError(Exception):
    """The model file is missing, damaged or from another scikit-learn version."""


# --- pipelines ------------------------------------------------------------------------------


def build_pipeline(kind: str, *, seed: int = 0) -> Pipeline:
    """The untrained pipeline for "listing" or "message" records."""
    numeric = LISTING_NUMERIC if kind == "listing" else MESSAGE_NUMERIC
    columns = ColumnTransformer(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2,
                                      max_features=60000, sublinear_tf=True,
                                      dtype=np.float32), 0),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2,
                                      max_features=20000, sublinear_tf=True,
                                      token_pattern=r"(?u)\b\w+\b", dtype=np.float32), 0),  # noqa: S106
            ("numbers", StandardScaler(), list(range(1, len(numeric) + 1))),
        ],
        sparse_threshold=1.0,
    )
    classifier = CalibratedClassifierCV(
        LogisticRegression(C=C, max_iter=1000, solver=SOLVER, random_state=seed),
        method="sigmoid", cv=3, ensemble=False,
    )
    return Pipeline([("features", RecordFeatures(kind=kind)), ("columns", columns),
                     ("model", classifier)])


# --- training and metrics --------------------------------------------------------------------


def split_by_group(labels: Sequence[int], groups: Sequence[str], *, seed: int,
                   test_share: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): whole sellers go to one side (no leakage), stratified by
    the seller's label (any scam row makes a scam seller), `test_share` held out."""
    group_label: dict[str, int] = {}
    for label, group in zip(labels, groups, strict=True):
        group_label[group] = max(group_label.get(group, 0), int(label))
    rng = np.random.default_rng(seed)
    test_groups: set[str] = set()
    for value in (0, 1):
        members = sorted(g for g, v in group_label.items() if v == value)
        rng.shuffle(members)
        test_groups.update(members[: max(1, round(len(members) * test_share))])
    is_test = np.array([g in test_groups for g in groups])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def metrics_for(y_true: Sequence[int], scores: Sequence[float], threshold: float
                ) -> dict[str, Any]:
    """ROC AUC, PR AUC, Brier, and precision/recall/confusion at 0.5 and at `threshold`."""
    y = np.asarray(y_true)
    p = np.asarray(scores)
    out: dict[str, Any] = {
        "n": len(y), "positives": int(y.sum()),
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
    }
    for name, cut in (("at_0.5", 0.5), ("at_threshold", threshold)):
        predicted = (p > cut).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
        out[name] = {
            "threshold": cut,
            "precision": round(float(precision_score(y, predicted, zero_division=0)), 4),
            "recall": round(float(recall_score(y, predicted, zero_division=0)), 4),
            "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        }
    return out


def hold_threshold() -> float:
    try:
        from django.conf import settings

        value = float(getattr(settings, "FRAUD_HOLD_THRESHOLD", DEFAULT_THRESHOLD))
    except Exception:  # noqa: BLE001 - settings not configured (bench, plain scripts)
        value = DEFAULT_THRESHOLD
    return value if value <= 1 else DEFAULT_THRESHOLD


@dataclass
class TrainingData:
    listings: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    imported: int = 0


def training_data(*, samples: int, seed: int, extra: Iterable[dict[str, Any]] = (),
                  generated: bool = True) -> TrainingData:
    """Generated rows (unless `generated` is False) plus imported/decided ones."""
    listings = generator.generate_listings(samples, seed) if generated else []
    messages = generator.generate_messages(max(400, samples // 2), seed) if generated else []
    imported = 0
    for row in extra:
        imported += 1
        (messages if "text" in row and "title" not in row else listings).append(row)
    return TrainingData(listings=listings, messages=messages, imported=imported)


def _fit_and_measure(kind: str, rows: list[dict[str, Any]], *, seed: int, threshold: float,
                     progress: Callable[[str], None]) -> tuple[Pipeline, dict[str, Any]]:
    labels = [int(r["label"]) for r in rows]
    if len(set(labels)) < 2:
        raise FraudModelError(f"{kind} training data needs both scams and honest rows.")
    groups = [str(r.get("seller_id") or f"row-{i}") for i, r in enumerate(rows)]
    train, test = split_by_group(labels, groups, seed=seed)
    pipeline = build_pipeline(kind, seed=seed)
    started = time.monotonic()
    progress(f"  {kind}s: fitting on {len(train)} rows, {len(test)} held out (split by seller)")
    pipeline.fit([rows[i] for i in train], [labels[i] for i in train])
    scores = pipeline.predict_proba([rows[i] for i in test])[:, 1]
    result = metrics_for([labels[i] for i in test], scores, threshold)
    result["train_rows"] = len(train)
    result["seconds"] = round(time.monotonic() - started, 2)
    return pipeline, result


def train(*, samples: int = DEFAULT_SAMPLES, seed: int = 0,
          extra: Iterable[dict[str, Any]] = (), generated: bool = True,
          progress: Callable[[str], None] | None = None) -> FraudModel:
    """Train both pipelines and measure them on their held-out splits."""
    # One BLAS thread: on a busy machine, threads fighting over cores made
    # lbfgs 20x slower here, and a single thread is plenty for this size.
    with threadpool_limits(limits=1):
        return _train(samples=samples, seed=seed, extra=extra, generated=generated,
                      progress=progress or (lambda message: None))


def _train(*, samples: int, seed: int, extra: Iterable[dict[str, Any]], generated: bool,
           progress: Callable[[str], None]) -> FraudModel:
    say = progress
    threshold = hold_threshold()
    say(f"generating {samples} listings and chat snippets (seed {seed})")
    data = training_data(samples=samples, seed=seed, extra=extra, generated=generated)
    if data.imported:
        say(f"  + {data.imported} imported rows")
    listing_pipeline, listing_metrics = _fit_and_measure(
        "listing", data.listings, seed=seed, threshold=threshold, progress=say)
    message_pipeline, message_metrics = _fit_and_measure(
        "message", data.messages, seed=seed, threshold=threshold, progress=say)
    digest = hashlib.sha256(
        json.dumps([samples, seed, data.imported, len(data.listings)]).encode()
    ).hexdigest()[:8]
    now = datetime.now(UTC)
    return FraudModel(
        version=f"{now:%Y%m%dT%H%M%SZ}-{digest}",
        listing_pipeline=listing_pipeline,
        message_pipeline=message_pipeline,
        metrics={"listings": listing_metrics, "messages": message_metrics},
        info={
            "created_at": now.isoformat(), "samples": samples, "seed": seed,
            "imported_rows": data.imported, "generated": generated,
            "listing_rows": len(data.listings), "message_rows": len(data.messages),
            "sklearn_version": sklearn.__version__, "format": FORMAT,
        },
    )


# --- the model object -------------------------------------------------------------------------


@dataclass
class Score:
    score: float
    reasons: list[str]
    version: str
    codes: list[str] = field(default_factory=list)


@dataclass
class FraudModel:
    version: str
    listing_pipeline: Pipeline
    message_pipeline: Pipeline
    metrics: dict[str, Any]
    info: dict[str, Any]

    # -- scoring --
    def score_records(self, records: Sequence[dict[str, Any]]) -> list[Score]:
        """Score listing records (the fraud_score line shape), with reasons."""
        if not records:
            return []
        return _score(self.listing_pipeline, list(records), self.version, listing=True)

    def score_texts(self, texts: Sequence[str]) -> list[Score]:
        """Score chat messages."""
        if not texts:
            return []
        records = [{"text": t} for t in texts]
        return _score(self.message_pipeline, records, self.version, listing=False)

    # -- files --
    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"fraud-{self.version}.joblib"
        tmp = path.with_suffix(".joblib.tmp")
        joblib.dump({"format": FORMAT, "version": self.version, "info": self.info,
                     "metrics": self.metrics, "listing_pipeline": self.listing_pipeline,
                     "message_pipeline": self.message_pipeline}, tmp, compress=3)
        tmp.replace(path)
        sidecar = {"version": self.version, "file": path.name, "sha256": _sha256(path),
                   "sklearn_version": sklearn.__version__, "info": self.info,
                   "metrics": self.metrics}
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path | str) -> FraudModel:
        path = Path(path)
        if not path.is_file():
            raise FraudModelError(f"No fraud model at {path}: run `python manage.py fraud_train`.")
        sidecar_path = path.with_suffix(".json")
        if sidecar_path.is_file():
            try:
                sidecar = json.loads(sidecar_path.read_text())
            except ValueError as exc:
                raise FraudModelError(f"{sidecar_path} is not valid JSON: {exc}") from None
            _check_version(path, sidecar.get("sklearn_version"))
            if sidecar.get("sha256") and sidecar["sha256"] != _sha256(path):
                raise FraudModelError(
                    f"{path} does not match the SHA-256 in {sidecar_path.name}: the file was "
                    "changed or damaged; retrain with `python manage.py fraud_train`."
                )
        try:
            bundle = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways
            raise FraudModelError(
                f"Could not load {path} ({type(exc).__name__}: {exc}); it may come from another "
                f"scikit-learn version (this is {sklearn.__version__}). Retrain with "
                "`python manage.py fraud_train`."
            ) from None
        if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
            raise FraudModelError(
                f"{path} is not a fraud model of format {FORMAT} (it was made for another "
                "feature set): retrain with `python manage.py fraud_train`."
            )
        _check_version(path, bundle["info"].get("sklearn_version"))
        return cls(version=bundle["version"], listing_pipeline=bundle["listing_pipeline"],
                   message_pipeline=bundle["message_pipeline"], metrics=bundle["metrics"],
                   info=bundle["info"])


def _check_version(path: Path, trained_with: str | None) -> None:
    if trained_with and trained_with != sklearn.__version__:
        raise FraudModelError(
            f"{path.name} was trained with scikit-learn {trained_with}, but this is "
            f"{sklearn.__version__}: retrain with `python manage.py fraud_train`."
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- scoring and reasons ----------------------------------------------------------------------

# Numeric feature -> the group whose reason it supports.
_GROUP_OF = {
    "log_price_ratio": "price", "cheap_50": "price", "cheap_25": "price", "cheap_10": "price",
    "premium_cheap": "price", "new_and_cheap": "price",
    "sig_payment": "payment", "sig_deposit": "deposit", "sig_abroad": "abroad",
    "sig_counterfeit": "counterfeit", "sig_contact_app": "contact", "sig_contact_handle": "contact",
    "sig_phone": "contact", "sig_spaced_digits": "contact", "sig_email": "contact",
    "sig_obfuscated": "contact", "sig_link": "link", "sig_phishing": "link",
    "burst_high_value": "burst", "velocity": "burst", "new_and_signal": "new",
    "new_account": "new", "no_history": "new",
    "log_reviews": "reputation", "rep_good": "reputation", "rep_poor": "reputation",
}
_MIN_TEXT_CONTRIBUTION = 0.35
_MAX_REASONS = 6


def _linear_parts(pipeline: Pipeline) -> tuple[np.ndarray, float, Any]:
    """(coefficients, intercept, sigmoid calibrator) of the fitted model."""
    calibrated = pipeline.named_steps["model"].calibrated_classifiers_[0]
    model = calibrated.estimator
    return model.coef_.ravel(), float(model.intercept_[0]), calibrated.calibrators[0]


def _feature_names(pipeline: Pipeline, listing: bool) -> list[str]:
    cached = getattr(pipeline, "_fraud_feature_names", None)
    if cached is not None:
        return cached
    columns = pipeline.named_steps["columns"]
    names: list[str] = []
    for label, transformer, _ in columns.transformers_:
        if label in ("chars", "words"):
            names += [f"{label}:{t}" for t in transformer.get_feature_names_out()]
        elif label == "numbers":
            names += LISTING_NUMERIC if listing else MESSAGE_NUMERIC
    pipeline._fraud_feature_names = names  # type: ignore[attr-defined]
    return names


def _score(pipeline: Pipeline, records: list[dict[str, Any]], version: str, *, listing: bool
           ) -> list[Score]:
    """Score a batch. The pipeline's steps are applied by hand (same maths as
    `pipeline.predict_proba`, checked by a test) to skip scikit-learn's
    per-call validation, which costs more than the model for one listing,
    and to get each feature's contribution to the logit for the reasons."""
    featurizer: RecordFeatures = pipeline.named_steps["features"]
    table, seen = featurizer.table(records)
    columns = pipeline.named_steps["columns"].named_transformers_
    texts = list(table[:, 0])
    scaler = columns["numbers"]
    numbers = (table[:, 1:].astype(np.float64) - scaler.mean_) / scaler.scale_
    matrix = sparse.hstack([
        columns["chars"].transform(texts), columns["words"].transform(texts),
        sparse.csr_matrix(numbers),
    ], format="csr")
    coef, intercept, calibrator = _linear_parts(pipeline)
    logits = matrix @ coef + intercept
    probabilities = expit(-(calibrator.a_ * logits + calibrator.b_))
    names = _feature_names(pipeline, listing)
    first_numeric = len(names) - numbers.shape[1]
    results = []
    for i in range(len(records)):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        cols = matrix.indices[start:end]
        contributions = dict(zip(cols.tolist(), (matrix.data[start:end] * coef[cols]).tolist(),
                                 strict=True))
        facts = seen[i]
        if isinstance(facts, ListingFacts):
            reasons, codes = _listing_reasons(facts, contributions, names, first_numeric)
        else:
            reasons, codes = _message_reasons(facts)
            reasons += _text_reasons(contributions, names, first_numeric)
        score = float(probabilities[i])
        if not math.isfinite(score):
            score = 0.0
        results.append(Score(score=round(min(1.0, max(0.0, score)), 4),
                             reasons=reasons[:_MAX_REASONS], version=version, codes=codes))
    return results


def _group_totals(contributions: dict[int, float], names: list[str], first_numeric: int
                  ) -> dict[str, float]:
    totals: dict[str, float] = {}
    for j, value in contributions.items():
        if j >= first_numeric:
            group = _GROUP_OF.get(names[j])
            if group:
                totals[group] = totals.get(group, 0.0) + value
    return totals


def _text_reasons(contributions: dict[int, float], names: list[str], first_numeric: int
                  ) -> list[str]:
    text = [(v, names[j]) for j, v in contributions.items()
            if j < first_numeric and v > _MIN_TEXT_CONTRIBUTION]
    if not text:
        return []
    text.sort(reverse=True)
    terms: list[str] = []
    for _, name in text:
        term = name.split(":", 1)[1].strip()
        if len(term) < 2 or any(term in t or t in term for t in terms):
            continue
        terms.append(term)
        if len(terms) == 3:
            break
    if not terms:
        return []
    return ["wording typical of scams: " + ", ".join(f"“{t}”" for t in terms)]


def _listing_reasons(f: ListingFacts, contributions: dict[int, float], names: list[str],
                     first_numeric: int) -> tuple[list[str], list[str]]:
    totals = _group_totals(contributions, names, first_numeric)
    s = f.signals
    candidates: list[tuple[float, str, str]] = []  # (weight, code, words)

    def add(group: str, code: str, words: str, fired: bool) -> None:
        if fired:
            candidates.append((totals.get(group, 0.0), code, words))

    if f.ratio is not None and f.ratio < 0.5 and f.reference_yuan:
        below = int((1 - f.ratio) * 100)
        add("price", "price_far_below",
            f"price {below}% below {f.reference_kind} (median ¥{f.reference_yuan:,.0f})", True)
    add("payment", "off_platform_payment", "asks for payment outside the platform",
        bool(s.payment))
    kinds = sig.contact_kinds(s)
    hidden = " (obfuscated)" if s.obfuscated else ""
    add("contact", "contact_details", f"contact details ({', '.join(kinds)}){hidden}",
        bool(kinds))
    add("deposit", "deposit_before_viewing", "asks for a deposit before viewing", bool(s.deposit))
    add("abroad", "abroad_shipping_only", "seller is 'abroad', shipping only", bool(s.abroad))
    add("counterfeit", "replica_wording", "replica or counterfeit wording", bool(s.counterfeit))
    add("link", "phishing_link" if s.phishing else "link",
        "suspicious link (possible phishing)" if s.phishing else "contains a link",
        bool(s.link or s.phishing))
    add("burst", "new_account_velocity",
        f"new account ({f.account_age_days} days) with {f.listings_count} listings of "
        "high-value items", f.burst)
    if f.reputation is not None:
        add("reputation", "poor_reputation",
            f"seller rated {f.reputation:.1f}/5 over {f.reviews_count} reviews", f.rated_poorly)
    others = [c for c in candidates if c[1] not in ("new_account_velocity", "poor_reputation")]
    add("new", "new_account", f"brand-new account ({f.account_age_days} days)",
        f.account_age_days < 7 and bool(others) and not f.burst)
    candidates.sort(key=lambda c: -c[0])
    reasons = [words for _, _, words in candidates]
    codes = [code for _, code, _ in candidates]
    reasons += _text_reasons(contributions, names, first_numeric)
    return reasons, codes


def _message_reasons(s: sig.Signals) -> tuple[list[str], list[str]]:
    reasons = []
    if s.payment:
        reasons.append("asks for payment outside the platform")
    kinds = sig.contact_kinds(s)
    if kinds:
        hidden = " (obfuscated)" if s.obfuscated else ""
        reasons.append(f"contact details ({', '.join(kinds)}){hidden}")
    if s.deposit:
        reasons.append("asks for a deposit before viewing")
    if s.abroad:
        reasons.append("says they are abroad, shipping only")
    if s.counterfeit:
        reasons.append("replica or counterfeit wording")
    if s.phishing:
        reasons.append("suspicious link (possible phishing)")
    elif s.link:
        reasons.append("contains a link")
    return reasons, sig.chat_codes(s)


# --- the process-wide model ---------------------------------------------------------------------

_lock = threading.Lock()
_active: FraudModel | None = None


def model_location() -> Path:
    """The configured model file or folder (setting FRAUD_MODEL_PATH)."""
    from django.conf import settings

    configured = getattr(settings, "FRAUD_MODEL_PATH", None)
    if configured:
        return Path(configured)
    return Path(getattr(settings, "VAR_DIR", Path("var"))) / "models"


def model_file(location: Path | None = None) -> Path | None:
    """The file to load: the configured file, or the newest fraud-*.joblib in the folder."""
    location = location or model_location()
    if location.suffix == ".joblib":
        return location if location.is_file() else None
    if not location.is_dir():
        return None
    candidates = sorted(location.glob("fraud-*.joblib"))
    return candidates[-1] if candidates else None


def get_model() -> FraudModel:
    """The model for this process: loaded from disk, or trained on first use."""
    global _active
    if _active is not None:
        return _active
    with _lock:
        if _active is not None:
            return _active
        path = model_file()
        model = None
        if path is not None:
            try:
                model = FraudModel.load(path)
            except FraudModelError as exc:
                logger.error("fraud: %s Training a small model in memory instead.", exc)
        if model is None:
            started = time.monotonic()
            model = train(samples=FIRST_USE_SAMPLES, seed=0)
            model.version = f"builtin-{model.version.split('-', 1)[1]}"
            logger.warning(
                "fraud: no trained model file; trained a small one from generated data in "
                "%.1f s (version %s). Run `python manage.py fraud_train` to save a proper one.",
                time.monotonic() - started, model.version,
            )
        _active = model
        return model


def active_model() -> FraudModel | None:
    """The model in memory, if any (never loads or trains)."""
    return _active


def set_model(model: FraudModel | None) -> None:
    """Use `model` from now on (None: load or train again on next use)."""
    global _active
    with _lock:
        _active = model
