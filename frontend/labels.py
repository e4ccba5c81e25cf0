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
    # order timeline steps that are not order states
    "payment_failed": _("Payment failed"),
    "escalated": _("Sent to a moderator"),
    "return_accepted": _("Return accepted"),
    "return_shipped": _("Return shipped"),
    "evidence_added": _("Evidence added"),
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

# Moderation decisions as the affected person reads them (appeal pages).
MODERATION_ACTIONS = {
    "approve": _("Approved (no violation)"),
    "remove": _("Removed"),
    "warn": _("Warning"),
    "suspend": _("Account suspended"),
    "refund": _("Refunded to the buyer"),
    "release": _("Released to the seller"),
    "split": _("Split between buyer and seller"),
    "hold": _("Held for review (automated)"),
}

# The restriction each decision puts in place (moderation.services.RESTRICTION_TEXT).
RESTRICTIONS = {
    "hold": _("Your listing is hidden until a moderator has reviewed it."),
    "remove": _("Your listing was removed and cannot be relisted."),
    "warn": _("You received a warning; repeated violations can lead to suspension."),
    "suspend": _("Your account is suspended: you cannot log in, your listings are hidden "
                 "from search and your open orders are frozen for review."),
    "refund": _("The disputed payment was refunded to the buyer."),
    "release": _("The disputed payment was released to the seller."),
    "split": _("The disputed payment was split between buyer and seller."),
    "approve": _("No restriction: the content was found to comply with our rules."),
}

APPEAL_STATUSES = {
    "pending": _("Waiting for a moderator"),
    "upheld": _("Decision upheld"),
    "overturned": _("Decision changed"),
}

# The rules moderation names in a decision (moderation.services._rule_for).
MODERATION_RULES = {
    "Buyer protection: disputed orders are decided by a moderator":
        _("Buyer protection: disputed orders are decided by a moderator"),
    "No scams or fraud": _("No scams or fraud"),
    "Prohibited items": _("Prohibited items"),
    "No counterfeit goods": _("No counterfeit goods"),
    "No offensive content": _("No offensive content"),
    "No spam": _("No spam"),
    "Use only your own photos": _("Use only your own photos"),
    "Marketplace rules": _("Marketplace rules"),
}

FEED_REASONS = {
    "followed": _("From a seller you follow"),
    "similar": _("Like what you viewed"),
    "category": _("In a category you like"),
    "nearby": _("New near you"),
    "popular": _("Popular"),
}


def moderation_rule(rule: str) -> str:
    """A decision's rule text ("; "-joined names) in the active language."""
    return "; ".join(str(MODERATION_RULES.get(part, part)) for part in rule.split("; ") if part)

# accounts.devices' words for a session (device labels and approximate places).
DEVICES = {
    "Unknown device": _("Unknown device"),
    "Browser": _("Browser"),
    "API token": _("API token"),
}
PLACES = {
    "this computer": _("this computer"),
    "private network": _("private network"),
    "carrier network": _("carrier network"),
    "unknown": _("Unknown"),
}

# accounts.verification's identity documents and the API's payout methods.
DOCUMENT_TYPES = {
    "passport": _("Passport"),
    "national_id": _("National identity card"),
    "driving_licence": _("Driving licence"),
    "resident_permit": _("Residence permit"),
}
PAYOUT_METHODS = {
    "bank": _("Bank account"),
    "alipay": _("Alipay"),
    "wechat": _("WeChat Pay"),
    "paypal": _("PayPal"),
}

# Words the services put into timeline notes ("The buyer added 2 photo(s)",
# "Delivered (carrier).") that translate() looks up on their own.
NOTE_WORDS = {
    "buyer": _("buyer"),
    "seller": _("seller"),
    "carrier": _("carrier"),
}
