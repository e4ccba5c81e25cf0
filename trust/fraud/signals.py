"""Text normalisation and rule signals that survive obfuscation.

Scammers hide contact details from filters: digits spaced out or split by
emoji ("1 3 8 0 0", "1️⃣3️⃣8️⃣"), written as words or Chinese numerals
("one three eight", "一三八零零"), full-width ("１３８"), homoglyphs
("WеChat" with a Cyrillic е), names broken up ("tele gram", "微 信", "V信").
`normalise()` folds all of that into plain lower-case text; the detectors
below run on it and return named signals. The model uses the signals as
features, the explanations turn them into words, and the chat check reports
them under the codes `chat.safety.WARNING_TEXT` knows.

Payment and counterfeit phrases that are negated ("no bank transfers",
"不接受私下转账", "not a replica") count as the opposite signal: honest
sellers often write them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Cyrillic and Greek letters that look like Latin ones.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ɡ": "g", "ӏ": "l", "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m",
    "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "І": "i", "Ѕ": "s",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "Α": "a", "Β": "b", "Ε": "e", "Ι": "i", "Κ": "k",
    "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Χ": "x", "Υ": "y", "Ζ": "z",
    # look-alike Chinese ways of writing the messenger names
    "薇": "微", "威": "微", "徽": "微", "維": "微", "维": "微", "蔚": "微",
    "＠": "@",
})
_HOMOGLYPH_RE = re.compile(
    "[" + "".join(chr(k) for k in _HOMOGLYPHS if 0x370 <= k < 0x530) + "]"
)
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_GAP_RE = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_CN_NUMERALS = {
    "零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2",
    "贰": "2", "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6",
    "陆": "6", "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9", "拐": "7",
}
_CN_RUN_RE = re.compile(rf"[{''.join(_CN_NUMERALS)}](?:[\s\-.·]*[{''.join(_CN_NUMERALS)}]){{5,}}")
_EN_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_EN_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_EN_RUN_RE = re.compile(rf"\b{_EN_WORD}(?:[\s\-,.]+{_EN_WORD}){{4,}}\b")
# O for 0 and l/I/| for 1 inside digit runs ("138OO13800O").
_LOOKALIKE_DIGIT_RE = re.compile(r"(?<=\d)[oOlI|](?=[\s\-.]?\d)|(?<=\d[\s\-.])[oOlI|](?=\d)")


class _FoldTable(dict):
    """str.translate table built lazily: combining marks and format characters
    vanish, emoji and symbols become spaces, homoglyphs become Latin letters."""

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        cat = unicodedata.category(ch)
        if cat in ("Mn", "Me", "Cf") or (cat == "Cc" and ch not in "\n\t"):
            value: str | None = None
        elif cat in ("So", "Sk", "Cs", "Co"):
            value = " "
        else:
            value = _HOMOGLYPHS.get(code, ch)
        self[code] = value
        return value


_FOLD = _FoldTable()


def normalise(text: str) -> str:
    """Lower-case text with obfuscation folded away (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text or "").translate(_FOLD)
    text = _LOOKALIKE_DIGIT_RE.sub(lambda m: "0" if m.group(0) in "oO" else "1", text)
    text = text.lower()
    text = _CN_RUN_RE.sub(lambda m: "".join(_CN_NUMERALS.get(c, "") for c in m.group(0)), text)
    text = _EN_RUN_RE.sub(
        lambda m: "".join(_EN_DIGITS[w] for w in re.findall(_EN_WORD, m.group(0))), text
    )
    text = _CJK_GAP_RE.sub("", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def squash(text: str) -> str:
    """Normalised text without any separators: finds "t e l e g r a m"."""
    return re.sub(r"[\W_]+", "", text)


# --- detectors ------------------------------------------------------------------------------

_NEGATION = (
    r"(?:\bno\b|\bnot\b|\bnever\b|don'?t|do not|won'?t|will not|without|refuse|instead of|"
    r"rather than|only through|不|不接受|拒绝|勿|别|不要|不支持|谢绝|非)"
)

PAYMENT_PATTERNS = [
    r"bank\s*transfer", r"wire\s*transfer", r"direct\s*transfer", r"transfer\s*(the\s*)?money",
    r"western\s*union", r"money\s*gram", r"paypal\s*(friends|f\s*&\s*f|ff\b|family|gift)",
    r"friends\s*(and|&|n)\s*family", r"gift\s*cards?", r"itunes\s*cards?", r"steam\s*cards?",
    r"google\s*play\s*cards?", r"amazon\s*cards?", r"bitcoin", r"\bbtc\b", r"\busdt\b",
    r"\beth\b", r"crypto", r"zelle", r"venmo", r"cash\s*app", r"pay\s*(me\s*)?(directly|outside)",
    r"outside\s*(of\s*)?(the\s*)?(app|platform|site)", r"off\s*(the\s*)?(app|platform)",
    r"wechat\s*pay", r"alipay\s*(me|directly|transfer)", r"\bemt\b|e-?transfer",
    r"微信转账", r"支付宝转账", r"微信支付", r"转账", r"转给我", r"打款", r"汇款", r"银行卡",
    r"私下交易", r"线下交易", r"不走平台", r"绕过平台", r"扫码付款", r"收款码", r"红包",
    r"直接付", r"点卡", r"充值卡", r"购物卡", r"比特币", r"泰达币",
]
DEPOSIT_PATTERNS = [
    r"deposit", r"down\s*payment", r"holding\s*fee", r"reservation\s*fee", r"pay\s*first",
    r"payment\s*first", r"upfront", r"up\s*front", r"in\s*advance", r"定金", r"订金", r"押金",
    r"先付", r"预付", r"先转", r"先打款", r"付款后(看货|发货|见面)",
]
ABROAD_PATTERNS = [
    r"\babroad\b", r"overseas", r"out\s*of\s*(the\s*)?country", r"offshore", r"deployed",
    r"on\s*a\s*(ship|rig)", r"working\s*in\s*(dubai|london|the\s*uk|singapore|germany)",
    r"shipping\s*only", r"courier\s*only", r"delivery\s*only", r"can'?t\s*meet",
    r"cannot\s*meet", r"no\s*(meet|pick\s*up|pickup|viewing)s?\b", r"ship\s*it\s*to\s*you",
    r"出国", r"在国外", r"国外", r"海外", r"人在外地", r"不在本地", r"只能邮寄", r"只能快递",
    r"只发快递", r"不能当面", r"无法当面", r"不面交", r"不能面交", r"只邮寄",
]
COUNTERFEIT_PATTERNS = [
    r"replica", r"\b1\s*:\s*1\b", r"\baaa\+?\b", r"mirror\s*(quality|grade)", r"super\s*copy",
    r"high\s*copy", r"top\s*copy", r"\bcopy\b", r"\bfake\b", r"unbranded\s*version",
    r"same\s*factory", r"counterfeit", r"knock\s*-?\s*off", r"dupe",
    r"高仿", r"复刻", r"原单", r"a货", r"精仿", r"莆田", r"仿品", r"一比一", r"1比1", r"超a",
    r"同厂", r"尾单",
]
CONTACT_PATTERNS = [
    r"whats\s*app", r"\bwa\.me\b", r"telegram", r"\bt\.me\b", r"\btg\b", r"wechat", r"weixin",
    r"\bwx\b", r"\bvx\b", r"\bv信", r"\bqq\b", r"扣扣", r"企鹅", r"line\s*id", r"\bline:",
    r"signal\s*(me|app)", r"viber", r"kakao", r"snapchat", r"skype", r"微信", r"加我", r"加v",
    r"私聊", r"联系我", r"call\s*me", r"text\s*me", r"sms\s*me", r"dm\s*me\s*on",
    r"contact\s*me\s*(on|at|via)",
]
_SQUASHED_CONTACT = ("whatsapp", "telegram", "wechat", "weixin", "微信", "skype", "viber")
LINK_RE = re.compile(
    r"(https?://\S+|www\.\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|cn|ru|xyz|top|io|"
    r"link|me|ly|cc|co|club|icu|buzz|click|shop|site|online|vip|info|biz|tk|ml|gq)\b(?:/\S*)?)",
)
_PHISHING_HINTS = re.compile(
    r"(login|log-in|signin|sign-in|verify|verification|secure|confirm|account|wallet|refund|"
    r"checkout|payment|pay-|-pay|escrow|delivery-|claim|bit\.ly|tinyurl|t\.cn|goo\.gl|is\.gd|"
    r"cutt\.ly|\.xyz|\.top|\.icu|\.buzz|\.click|\.tk|\.ml|\.gq|\.vip|\d+\.\d+\.\d+\.\d+|"
    r"验证|确认收款|登录|领取)",
)
_PHISHING_TEXT = re.compile(
    r"(verify\s*(your)?\s*(account|payment|identity)|confirm\s*(the\s*)?(payment|receipt|order)|"
    r"enter\s*(your)?\s*(card|bank|password)|verification\s*code|验证码|点击链接|确认收款|"
    r"登录.{0,6}(账号|账户)|claim\s*(your)?\s*(money|payment))",
)
EMAIL_RE = re.compile(
    r"[a-z0-9._%+-]+\s*(?:@|\(at\)|\[at\]|\bat\b|艾特)\s*[a-z0-9-]+\s*(?:\.|\(dot\)|\[dot\]|\bdot\b|点)"
    r"\s*(?:com|net|org|cn|co|io|me|de|uk|fr|hk|tw)\b",
)
_HANDLE_RE = re.compile(
    r"(?<![a-z0-9])(?:微信号?|wechat|weixin|vx|wx|v信|qq|telegram|tg|whatsapp|line\s*id)"
    r"\s*(?:号|id)?\s*[:：是]?\s*"
    r"@?[a-z0-9_\-]{4,}",
)
# Digits in a run, possibly split by separators (emoji are already spaces).
_DIGIT_RUN_RE = re.compile(r"(?<![a-z0-9])\+?\d(?:[\s.\-_/·•*()]{0,3}\d){5,}(?![a-z])")
_TRACKING_PREFIX_RE = re.compile(r"(sf|yt|jd|zto|sto|ems|yd|tracking|单号|运单)[\s:#：]*$")
PREMIUM_RE = re.compile(
    r"(iphone\s*1[1-6]|iphone|macbook|ipad\s*pro|ipad|airpods|apple\s*watch|galaxy\s*s2\d|"
    r"mate\s*\d0|pura|pixel\s*[6-9]|ps5|playstation\s*5|switch\s*oled|nintendo\s*switch|"
    r"xbox|sony\s*a7|a7\s*(iii|iv|r|s)|eos\s*r\d|x100v|canon|nikon\s*z|gopro|dji|mavic|"
    r"brompton|herman\s*miller|aeron|canada\s*goose|burberry|arc'?teryx|moncler|rolex|omega|"
    r"louis\s*vuitton|\blv\b|gucci|chanel|hermes|jordan|yeezy|dyson|airwrap|garmin|fender|"
    r"gibson|roland|bugaboo|thinkpad\s*x1|xps|rtx\s*\d0|苹果|华为|索尼|佳能|大疆|戴森|"
    r"路易威登|香奈儿|古驰|爱马仕|劳力士)",
)


def _compile(patterns: list[str]) -> re.Pattern[str]:
    # The detectors run on normalise()d, already lower-case text.
    return re.compile("|".join(f"(?:{p})" for p in patterns))


PAYMENT_RE = _compile(PAYMENT_PATTERNS)
DEPOSIT_RE = _compile(DEPOSIT_PATTERNS)
ABROAD_RE = _compile(ABROAD_PATTERNS)
COUNTERFEIT_RE = _compile(COUNTERFEIT_PATTERNS)
CONTACT_RE = _compile(CONTACT_PATTERNS)
_NEGATION_RE = re.compile(_NEGATION + r"[^.!?。！？\n]{0,25}$")
_PLATFORM_ONLY_RE = re.compile(
    r"(through\s*the\s*(app|platform)|via\s*the\s*(app|platform)|platform\s*(payment|escrow)|"
    r"\bescrow\b|in-?app\s*payment|平台担保|走平台|平台交易|平台付款|担保交易)",
)


def _hits(regex: re.Pattern[str], text: str) -> tuple[int, int]:
    """(plain hits, negated hits) of `regex` in `text`."""
    plain = negated = 0
    for match in regex.finditer(text):
        before = text[max(0, match.start() - 30):match.start()]
        if _NEGATION_RE.search(before):
            negated += 1
        else:
            plain += 1
    return plain, negated


@dataclass
class Signals:
    """What the detectors found in one text."""

    payment: int = 0
    payment_negated: int = 0
    platform_only: int = 0
    deposit: int = 0
    abroad: int = 0
    counterfeit: int = 0
    counterfeit_negated: int = 0
    contact_app: int = 0
    contact_handle: int = 0
    phone: int = 0
    spaced_digits: int = 0
    email: int = 0
    link: int = 0
    phishing: int = 0
    obfuscated: int = 0
    premium: int = 0
    text: str = ""  # the normalised text the detectors saw

    def as_vector(self) -> list[float]:
        return [float(min(getattr(self, name), 3)) for name in SIGNAL_NAMES]


SIGNAL_NAMES = [
    "payment", "payment_negated", "platform_only", "deposit", "abroad", "counterfeit",
    "counterfeit_negated", "contact_app", "contact_handle", "phone", "spaced_digits", "email",
    "link", "phishing", "obfuscated", "premium",
]


def _phones(text: str) -> tuple[int, int]:
    """(phone-like digit runs, runs spelt out digit by digit)."""
    phones = spaced = 0
    for match in _DIGIT_RUN_RE.finditer(text):
        if _TRACKING_PREFIX_RE.search(text[max(0, match.start() - 12):match.start()]):
            continue  # a parcel tracking number, not a phone
        chunk = match.group(0)
        groups = re.findall(r"\d+", chunk)
        digits = "".join(groups)
        if len(groups) >= 6 and sum(len(g) == 1 for g in groups) >= 5:
            spaced += 1
            phones += 1
            continue
        if len(digits) < 8 or len(digits) > 16:
            continue
        if all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
            continue  # "2019 2020": years, not a phone
        if len(groups) > 1 and max(len(g) for g in groups) <= 3 and len(digits) < 10:
            continue  # "12 x 30 x 45 cm" style measurements
        phones += 1
    return phones, spaced


def detect(raw: str) -> Signals:
    """Run every detector on `raw` (normalised here)."""
    text = normalise(raw)
    squashed = squash(text)
    s = Signals(text=text)
    s.payment, s.payment_negated = _hits(PAYMENT_RE, text)
    s.platform_only = len(_PLATFORM_ONLY_RE.findall(text))
    deposit, deposit_negated = _hits(DEPOSIT_RE, text)
    s.deposit = deposit
    s.abroad = len(ABROAD_RE.findall(text))
    s.counterfeit, s.counterfeit_negated = _hits(COUNTERFEIT_RE, text)
    s.contact_app = len(CONTACT_RE.findall(text))
    if not s.contact_app and any(name in squashed for name in _SQUASHED_CONTACT):
        s.contact_app = 1
        s.obfuscated += 1
    s.contact_handle = len(_HANDLE_RE.findall(text))
    s.phone, s.spaced_digits = _phones(text)
    s.email = len(EMAIL_RE.findall(text))
    links = LINK_RE.findall(text)
    s.link = len(links)
    s.phishing = sum(1 for link in links if _PHISHING_HINTS.search(link))
    if s.link and _PHISHING_TEXT.search(text):
        s.phishing += 1
    elif _PHISHING_TEXT.search(text):
        s.phishing += 1
    s.premium = 1 if PREMIUM_RE.search(text) else 0
    # Obfuscation: the raw text hid something that only the normalised text shows.
    nfkc = unicodedata.normalize("NFKC", raw or "")
    spelt_digits = len(re.findall(r"[0-9]", text)) - len(re.findall(r"[0-9]", nfkc)) >= 4
    homoglyphs = _HOMOGLYPH_RE.search(nfkc) and re.search(r"[a-z]", text)
    emoji_between = re.search(r"\d\s*[\U0001F000-\U0001FAFF\u2600-\u27BF\u20E3\uFE0F]+\s*\d", nfkc)
    odd_email = s.email and re.search(r"\(at\)|\[at\]|\bat\b|艾特|\(dot\)|\bdot\b", text)
    s.obfuscated += sum(bool(x) for x in (
        s.spaced_digits, spelt_digits, homoglyphs, emoji_between, odd_email,
    ))
    return s


def chat_codes(s: Signals) -> list[str]:
    """The signal codes chat reports (its WARNING_TEXT keys, plus a few more)."""
    codes = []
    if s.payment:
        codes.append("off_platform_payment")
    if s.phone:
        codes.append("phone_number")
    if s.email:
        codes.append("email_address")
    if s.contact_app or s.contact_handle:
        codes.append("contact_app")
    if s.link:
        codes.append("link")
    if s.deposit:
        codes.append("deposit_before_viewing")
    if s.phishing:
        codes.append("phishing")
    return codes


def contact_kinds(s: Signals) -> list[str]:
    kinds = []
    if s.phone:
        kinds.append("phone")
    if s.contact_app or s.contact_handle:
        kinds.append("messenger id")
    if s.email:
        kinds.append("e-mail")
    return kinds
