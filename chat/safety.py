"""Message checks: the hook the trust module fills, and the rules we ship.

A check gets the message text (and who sends it to whom) and returns a
`Verdict` or None. Checks run after the message is stored (the conversation
is never blocked by a slow check); a flagged message is recorded as a
SafetySignal and the recipient gets a `warning` frame with the reasons.
Trust registers its fraud model here at start-up (`register_message_check`);
chat itself never imports trust.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Verdict:
    reasons: list[str]
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


MessageCheck = Callable[[str, dict[str, Any]], Verdict | None]
_checks: dict[str, MessageCheck] = {}


def register_message_check(name: str, check: MessageCheck) -> None:
    _checks[name] = check


def unregister_message_check(name: str) -> None:
    _checks.pop(name, None)


def message_checks() -> dict[str, MessageCheck]:
    return dict(_checks)


# --- the rules ---------------------------------------------------------------------------

OFF_PLATFORM_PAYMENT = [
    r"bank\s*transfer",
    r"wire\s*transfer",
    r"western\s*union",
    r"money\s*gram",
    r"paypal\s*(friends|f&f|family)",
    r"friends\s*(and|&)\s*family",
    r"gift\s*cards?",
    r"itunes\s*cards?",
    r"steam\s*cards?",
    r"bitcoin|btc|usdt|crypto",
    r"pay\s*(me\s*)?outside",
    r"outside\s*(the\s*)?(app|platform|site)",
    r"wechat\s*pay",
    r"alipay",
    r"zelle",
    r"venmo",
    r"deposit\s*(first|before)",
    r"pay\s*(a\s*)?deposit",
    r"微信转账",
    r"支付宝转账",
    r"银行卡",
    r"转账",
    r"私下交易",
    r"线下交易",
    r"定金",
    r"押金",
    r"加微信",
    r"扫码付款",
    r"红包",
]
CONTACT_APPS = [
    r"whats\s*app",
    r"telegram",
    r"\btg\b",
    r"wechat",
    r"\bwx\b",
    r"\bvx\b",
    r"\bqq\b",
    r"line\s*id",
    r"signal\s*me",
    r"微信号?",
    r"加我",
    r"企鹅",
]
_PAYMENT_RE = re.compile("|".join(OFF_PLATFORM_PAYMENT), re.IGNORECASE)
_CONTACT_RE = re.compile("|".join(CONTACT_APPS), re.IGNORECASE)
_EMAIL_RE = re.compile(
    r"[\w.+-]+\s*(@|\(at\)|\[at\]| at )\s*[\w-]+\s*(\.|\(dot\)| dot )\s*\w{2,}", re.IGNORECASE
)
_LINK_RE = re.compile(
    r"(https?://|www\.|\b[\w-]+\.(com|net|cn|ru|xyz|top|io|link|me)\b)", re.IGNORECASE
)
# Digits possibly split by spaces, dots, dashes or emoji: 8+ digits in a run.
_SEPARATORS = r"[\s.\-_/·•*()\u200b]*"
_PHONE_RE = re.compile(r"(?:\+?\d" + _SEPARATORS + r"){8,}")
_DIGIT_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "零": "0",
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
    "〇": "0",
}
_DIGIT_WORD_RE = re.compile("|".join(sorted(_DIGIT_WORDS, key=len, reverse=True)), re.IGNORECASE)


def normalise(text: str) -> str:
    """Fold what people use to hide contact details: full-width digits,
    homoglyphs (NFKC), emoji and symbols between digits, digit words."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(ch) in ("So", "Sk", "Cf") else ch for ch in text)
    return text


def _digits_from_words(text: str) -> str:
    return _DIGIT_WORD_RE.sub(lambda m: _DIGIT_WORDS[m.group(0).lower()], text)


def rule_check(text: str, context: dict[str, Any]) -> Verdict | None:
    clean = normalise(text)
    reasons: list[str] = []
    if _PAYMENT_RE.search(clean):
        reasons.append("off_platform_payment")
    phone_text = _digits_from_words(clean)
    if _PHONE_RE.search(phone_text):
        reasons.append("phone_number")
    if _EMAIL_RE.search(clean):
        reasons.append("email_address")
    if _CONTACT_RE.search(clean):
        reasons.append("contact_app")
    if _LINK_RE.search(clean):
        reasons.append("link")
    if not reasons:
        return None
    score = min(1.0, 0.5 + 0.2 * (len(reasons) - 1))
    return Verdict(reasons=reasons, score=score)


def register_default_checks() -> None:
    register_message_check("rules", rule_check)


WARNING_TEXT = {
    "off_platform_payment": (
        "Never pay outside the platform: only payments through escrow are protected."
    ),
    "phone_number": (
        "This message contains a phone number. Keep the conversation here to stay protected."
    ),
    "email_address": (
        "This message contains an e-mail address. Keep the conversation here to stay protected."
    ),
    "contact_app": (
        "The other side asks to move to another app. Scammers do this to avoid our protection."
    ),
    "link": "This message contains a link. Do not enter passwords or card details on other sites.",
    "deposit_before_viewing": (
        "Never pay a deposit before you have seen the item: escrow protects you instead."
    ),
    "phishing": "This link may be a fake login or payment page. Do not enter your details.",
    "likely_scam": "This message looks like a known scam pattern. Stay on the platform and pay "
    "only through escrow.",
}


def run_checks(text: str, context: dict[str, Any]) -> list[tuple[str, Verdict]]:
    flagged = []
    for name, check in message_checks().items():
        try:
            verdict = check(text, context)
        except Exception:  # noqa: BLE001, S112 - a broken check must not lose the message
            continue
        if verdict is not None and verdict.reasons:
            flagged.append((name, verdict))
    return flagged
