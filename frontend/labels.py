"""Translatable labels for the states and codes the apps use (they keep
English names in code; the pages show them in the viewer's language)."""

from django.utils.translation import gettext_lazy as _

CONDITIONS = {
    "new": _("New"),
    "like_new": _("Like new"),
    "good": _("Good"),
    "fair": _("Fair"),
    "for_parts": _("For parts"),
}

STATUSES = {
    # listings
    "draft": _("Draft"),
    "pending_review": _("Under review"),
    "active": _("For sale"),
    "reserved": _("Reserved"),
    "sold": _("Sold"),
    "withdrawn": _("Withdrawn"),
    "expired": _("Expired"),
    # orders
    "created": _("Waiting for payment"),
    "payment_pending": _("Payment under review"),
    "paid": _("Paid, funds held"),
    "shipped": _("Shipped"),
    "delivered": _("Delivered"),
    "completed": _("Completed"),
    "cancelled": _("Cancelled"),
    "disputed": _("Disputed"),
    "refunded": _("Refunded"),
    "split": _("Split by a moderator"),
    # offers
    "offered": _("Open"),
    "countered": _("Countered"),
    "accepted": _("Accepted"),
    "declined": _("Declined"),
}

BADGES = {
    "verified_email": _("Verified e-mail"),
    "trusted_seller": _("Trusted seller"),
    "fast_responder": _("Fast responder"),
    "low_dispute_rate": _("Few disputes"),
}

SORTS = {
    "relevance": _("Best match"),
    "newest": _("Newest"),
    "price_asc": _("Price: low to high"),
    "price_desc": _("Price: high to low"),
    "distance": _("Nearest first"),
}

DISPUTE_REASONS = {
    "not_received": _("Not received"),
    "not_as_described": _("Not as described"),
    "damaged": _("Damaged"),
    "counterfeit": _("Counterfeit"),
    "other": _("Other"),
}

REPORT_REASONS = {
    "scam": _("Scam or fraud"),
    "prohibited": _("Prohibited item"),
    "counterfeit": _("Counterfeit"),
    "offensive": _("Offensive"),
    "spam": _("Spam"),
    "other": _("Other"),
}

SANDBOX_CARDS = {
    "card_ok": _("Sandbox card that succeeds"),
    "card_review": _("Sandbox card that needs review"),
    "card_declined": _("Sandbox card that is declined"),
}

# city -> (lat, lon, Chinese name): where a listing can be picked up.
CITIES = {
    "Shanghai": (31.2304, 121.4737, "上海"),
    "Beijing": (39.9042, 116.4074, "北京"),
    "Hangzhou": (30.2741, 120.1551, "杭州"),
    "Shenzhen": (22.5431, 114.0579, "深圳"),
    "Guangzhou": (23.1291, 113.2644, "广州"),
    "Chengdu": (30.5728, 104.0668, "成都"),
    "Hong Kong": (22.3193, 114.1694, "香港"),
    "Berlin": (52.5200, 13.4050, "柏林"),
    "London": (51.5072, -0.1276, "伦敦"),
    "Paris": (48.8566, 2.3522, "巴黎"),
}
