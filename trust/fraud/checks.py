"""The hooks trust plugs into at start-up (`trust.apps.TrustConfig.ready`).

* Publish check (`listings.services.register_publish_check`, name
  "trust.fraud"): scores the listing being published or relisted. The
  listing stores the score in `fraud_score` and the reasons in
  `fraud_reasons`; the last reason names the model version
  ("fraud model <version>"), so a stored score always says which model gave
  it. Above settings.FRAUD_HOLD_THRESHOLD listings holds it in
  `pending_review`; a threshold above 1 turns holds off (scores are at most 1).
  With no model file the first publish trains a small model in-process
  (model.py); later publishes reuse it.

* Message check (`chat.safety.register_message_check`, name "fraud"): it
  subsumes chat's "rules" check (which it unregisters) and reports under the
  same codes (`off_platform_payment`, `phone_number`, `email_address`,
  `contact_app`, `link`) plus `deposit_before_viewing`, `phishing` and
  `likely_scam` (the model's score above FRAUD_MESSAGE_WARN_THRESHOLD,
  default 0.7, with no rule signal). Its detectors also see through
  obfuscation and ignore negated payment words ("no bank transfers"). The
  verdict's score is the model's probability; `extra` carries the model
  version and the reasons in words. Chat messages must never wait for a
  training run: when no model is in memory and no file exists, the check
  answers from the detectors alone and starts training in a background
  thread. If anything fails, chat's own rule check answers instead.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

from trust.fraud import signals as sig

logger = logging.getLogger(__name__)

PUBLISH_CHECK_NAME = "trust.fraud"
MESSAGE_CHECK_NAME = "fraud"
DEFAULT_MESSAGE_WARN_THRESHOLD = 0.7

_warming = threading.Lock()
_warm_started = False


def publish_check(listing: Any) -> tuple[float | None, list[str]]:
    """`check(listing) -> (score, reasons)` for listings.services."""
    from trust.fraud.scoring import score_listing

    result = score_listing(listing)
    return result.score, [*result.reasons, f"fraud model {result.version}"]


def message_warn_threshold() -> float:
    return float(getattr(settings, "FRAUD_MESSAGE_WARN_THRESHOLD",
                         DEFAULT_MESSAGE_WARN_THRESHOLD))


def _model_without_waiting() -> Any:
    """The model if it is in memory or on disk; else start training it in the
    background and return None."""
    global _warm_started
    from trust.fraud import model as fraud_model

    if fraud_model.active_model() is not None or fraud_model.model_file() is not None:
        return fraud_model.get_model()
    if not getattr(settings, "FRAUD_TRAIN_IN_BACKGROUND", True):
        return None  # rules only until `fraud_train` has written a model
    with _warming:
        if not _warm_started:
            _warm_started = True
            threading.Thread(target=fraud_model.get_model, name="fraud-warm-up",
                             daemon=True).start()
    return None


def message_check(text: str, context: dict[str, Any]) -> Any:
    """`check(text, context) -> Verdict | None` for chat.safety."""
    from chat import safety

    try:
        model = _model_without_waiting()
        if model is None:
            found = sig.detect(text)
            codes = sig.chat_codes(found)
            if not codes:
                return None
            score = min(1.0, 0.5 + 0.2 * (len(codes) - 1))
            return safety.Verdict(reasons=codes, score=score, extra={"model_version": None})
        result = model.score_texts([text])[0]
    except Exception:
        logger.exception("fraud: message check failed; using chat's rules")
        return safety.rule_check(text, context)
    codes = list(result.codes)
    if not codes and result.score > message_warn_threshold():
        codes.append("likely_scam")
    if not codes:
        return None
    return safety.Verdict(
        reasons=codes, score=result.score,
        extra={"model_version": result.version, "explanations": result.reasons},
    )


def register() -> None:
    """Plug the checks into listings and chat (called from TrustConfig.ready)."""
    from chat import safety
    from listings import services as listing_services

    listing_services.register_publish_check(publish_check, name=PUBLISH_CHECK_NAME)
    safety.unregister_message_check("rules")
    safety.register_message_check(MESSAGE_CHECK_NAME, message_check)
