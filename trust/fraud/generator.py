# ruff: noqa: E501 - phrase pools read better one phrase a line
"""Labelled training data: generated listings and chat snippets (English, Chinese).

No public marketplace-fraud data set can be downloaded here, so this module
writes plausible listings in the shape `fraud_score` reads::

    {"title", "description", "price": {"amount_minor", "currency"}, "category",
     "seller": {"account_age_days", "listings_count", "completed_orders",
                [, "reputation", "reviews_count"]},
     "seller_id", "label" (1 scam, 0 honest), "patterns": [...], "lang": "en"|"zh"}

Scam patterns (`SCAM_PATTERNS`): a price far below what the item fetches,
payment outside the platform, contact details to move off it (often
obfuscated), a deposit before viewing, "abroad, shipping only",
replica wording, phishing links, and brand-new accounts posting many
high-value items. Hard negatives (`HONEST_PATTERNS`): honest listings that
mention payment words ("pay through the app, no bank transfers"), cheap
honest items, broken items for parts at a low price, and new honest sellers.
About 2% of labels are flipped, as in real moderation data.

Generated data is cleaner than the real thing: the same phrase pools appear
in the training and the held-out split, so metrics measured on it flatter
the model. Real moderator decisions (`training_rows_from_decisions`) and
imported labelled files should replace it as they accumulate.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

CURRENCY = "CNY"

# slug -> items: (english, chinese, low, high price in yuan, premium?)
CATALOGUE: dict[str, list[tuple[str, str, int, int, bool]]] = {
    "phones": [
        ("iPhone 15 Pro 256GB", "iPhone 15 Pro 256G", 5800, 7200, True),
        ("iPhone 14", "苹果14", 3200, 4300, True),
        ("iPhone 13 mini", "iPhone 13 mini", 2100, 2900, True),
        ("Huawei Mate 60 Pro", "华为Mate60 Pro", 3800, 5000, True),
        ("Xiaomi 13", "小米13", 1500, 2200, False),
        ("Samsung Galaxy S23", "三星Galaxy S23", 2600, 3600, True),
        ("Redmi Note 12", "红米Note12", 600, 950, False),
        ("phone case", "手机壳", 10, 45, False),
        ("USB-C charger", "快充充电器", 20, 70, False),
    ],
    "laptops": [
        ("MacBook Pro 14 M2", "MacBook Pro 14寸 M2", 8000, 10500, True),
        ("MacBook Air M1", "MacBook Air M1", 3500, 4600, True),
        ("ThinkPad X1 Carbon", "ThinkPad X1 Carbon", 3000, 5200, True),
        ("Dell XPS 13", "戴尔XPS 13", 3000, 4500, True),
        ("Lenovo IdeaPad", "联想小新", 1500, 2600, False),
        ("laptop sleeve", "电脑内胆包", 20, 70, False),
    ],
    "tablets": [
        ("iPad Pro 11", "iPad Pro 11寸", 4000, 5600, True),
        ("iPad 9th gen", "iPad 第九代", 1400, 2000, True),
        ("Kindle Paperwhite", "Kindle Paperwhite", 350, 650, False),
        ("Huawei MatePad", "华为MatePad", 1100, 1700, False),
        ("tablet stand", "平板支架", 15, 50, False),
    ],
    "cameras": [
        ("Sony A7 III", "索尼A7M3", 7000, 9000, True),
        ("Canon EOS R6", "佳能EOS R6", 9000, 12000, True),
        ("Fujifilm X100V", "富士X100V", 8000, 11000, True),
        ("GoPro Hero 11", "GoPro Hero11", 1500, 2200, True),
        ("Pentax K1000 film camera", "宾得K1000胶片机", 600, 1000, False),
        ("camera strap", "相机背带", 20, 60, False),
    ],
    "bikes": [
        ("Brompton folding bike", "小布Brompton折叠车", 7000, 10000, True),
        ("Giant road bike", "捷安特公路车", 1500, 3500, False),
        ("kids bike 16 inch", "16寸儿童自行车", 120, 380, False),
        ("bike lock", "自行车锁", 25, 80, False),
    ],
    "furniture": [
        ("Herman Miller Aeron chair", "Herman Miller Aeron椅", 3000, 5000, True),
        ("IKEA sofa", "宜家沙发", 500, 1500, False),
        ("solid wood desk", "实木书桌", 400, 1200, False),
        ("bookshelf", "书架", 80, 300, False),
        ("bar stool", "吧台凳", 30, 90, False),
    ],
    "clothing": [
        ("Canada Goose parka", "加拿大鹅羽绒服", 3000, 5200, True),
        ("Uniqlo down jacket", "优衣库羽绒服", 150, 320, False),
        ("wool coat", "羊毛大衣", 200, 600, False),
        ("T-shirt", "T恤", 10, 40, False),
    ],
    "clothing-women": [
        ("Burberry trench coat", "巴宝莉风衣", 4000, 8000, True),
        ("Zara dress", "Zara连衣裙", 60, 150, False),
        ("silk blouse", "真丝衬衫", 80, 220, False),
    ],
    "clothing-men": [
        ("Arc'teryx Beta AR jacket", "始祖鸟Beta AR冲锋衣", 2500, 4000, True),
        ("wool suit", "羊毛西装", 300, 900, False),
        ("cotton shirts", "纯棉衬衫", 30, 80, False),
    ],
    "shoes": [
        ("Nike Air Jordan 1", "AJ1 乔丹1代", 900, 2000, True),
        ("Adidas Yeezy 350", "椰子350", 1200, 2500, True),
        ("running shoes", "跑步鞋", 100, 300, False),
        ("flip flops", "人字拖", 10, 30, False),
    ],
    "books": [
        ("calculus textbook", "高等数学教材", 15, 60, False),
        ("Harry Potter box set", "哈利波特全套", 150, 300, False),
        ("paperback novel", "小说", 8, 30, False),
    ],
    "toys": [
        ("Nintendo Switch OLED", "任天堂Switch OLED", 1600, 2100, True),
        ("PS5 console", "PS5主机", 2800, 3500, True),
        ("LEGO Technic set", "乐高机械组", 500, 1500, False),
        ("plush toy", "毛绒玩具", 15, 50, False),
        ("jigsaw puzzle", "拼图", 20, 60, False),
    ],
    "home-appliances": [
        ("Dyson V12 vacuum", "戴森V12吸尘器", 2500, 3800, True),
        ("Dyson Airwrap", "戴森Airwrap卷发棒", 2200, 3200, True),
        ("rice cooker", "电饭煲", 100, 300, False),
        ("microwave", "微波炉", 150, 350, False),
        ("electric kettle", "电热水壶", 30, 80, False),
    ],
    "sports": [
        ("Garmin Forerunner 955", "佳明Forerunner 955", 1800, 2800, True),
        ("treadmill", "跑步机", 1500, 3500, False),
        ("yoga mat", "瑜伽垫", 20, 60, False),
        ("dumbbells pair", "哑铃一对", 80, 200, False),
        ("tennis racket", "网球拍", 200, 600, False),
    ],
    "musical-instruments": [
        ("Fender Stratocaster", "芬达Stratocaster电吉他", 4000, 8000, True),
        ("Roland digital piano", "罗兰电钢琴", 2500, 5000, True),
        ("Yamaha acoustic guitar", "雅马哈民谣吉他", 800, 1800, False),
        ("ukulele", "尤克里里", 100, 300, False),
        ("guitar capo", "变调夹", 10, 30, False),
    ],
    "baby": [
        ("Bugaboo stroller", "Bugaboo婴儿推车", 2500, 4500, True),
        ("baby car seat", "儿童安全座椅", 400, 900, False),
        ("baby clothes bundle", "婴儿衣服一堆", 30, 100, False),
        ("baby monitor", "婴儿监视器", 150, 400, False),
    ],
    "other": [
        ("AirPods Pro 2", "AirPods Pro 2代", 900, 1400, True),
        ("Apple Watch Series 8", "Apple Watch S8", 1800, 2600, True),
        ("concert tickets", "演唱会门票", 300, 1200, False),
        ("plant pots", "花盆", 10, 40, False),
        ("desk lamp", "台灯", 30, 120, False),
    ],
}

SCAM_PATTERNS = (
    "too_good_price", "off_platform_payment", "contact_details", "deposit_before_viewing",
    "abroad_shipping_only", "replica", "phishing_link", "new_account_velocity",
)
HONEST_PATTERNS = ("ordinary", "payment_words", "cheap_item", "for_parts", "new_seller")
# Broken-for-parts listings are real but rare; too many would drag the
# learned product medians down.
HONEST_WEIGHTS = (0.35, 0.2, 0.2, 0.05, 0.2)

# --- phrase pools ---------------------------------------------------------------------------

EN = {
    "title": ["{item}", "{item} - {cond}", "{cond} {item}", "{item} for sale", "Selling my {item}",
              "{item}, {cond}", "{item} ({cond})"],
    "cond": ["like new", "barely used", "good condition", "used", "mint", "lightly used",
             "works perfectly", "9/10 condition"],
    "intro": ["Selling my {item}.", "Up for sale: {item}.", "I have a {item} to sell.",
              "{item} in {cond} condition.", "Bought this {item} {age} ago.", ""],
    "age": ["a year", "two years", "six months", "three months", "last summer"],
    "why": ["Upgraded, so no longer needed.", "Moving house next month.", "Got a new one as a gift.",
            "Hardly used it, taking up space.", "Decluttering.", "Kids outgrew it.",
            "Switching to a different brand."],
    "detail": ["Small scratch on the back, see photos.", "Battery health 89%.",
               "Comes with the original box and charger.", "No dents, no cracks.",
               "Serviced recently.", "All parts included.", "Some signs of wear.",
               "Receipt available.", "Smoke-free, pet-free home."],
    "meet": ["Pickup near Jing'an metro, or I can ship.", "Can meet at the mall downtown.",
             "Shipping available at buyer's cost.", "Local pickup preferred, you can test it first.",
             "Happy to meet in a public place.", "Can deliver within the city on weekends."],
    "price": ["Price is firm.", "Open to reasonable offers.", "Slightly negotiable.",
              "First come, first served.", ""],
    "honest_pay": ["Payment through the app only, please, no bank transfers.",
                   "I only accept payment via the platform's escrow.",
                   "Please pay in the app; I will not accept wire transfers or gift cards.",
                   "Pay through the platform after you have seen it.",
                   "No deposits needed, pay via the app when you pick it up.",
                   "Not a replica, genuine with receipt, pay in the app.",
                   "For your safety please don't pay outside the app."],
    "parts": ["For parts only: screen broken, does not turn on.",
              "Not working, sold as is for repair or spare parts.",
              "Water damaged, for parts.", "Missing pieces, cheap for a handy person."],
    "cheap": ["Just want it gone, cheap.", "Nearly free, pick it up.", "Cheap, a bit worn.",
              "Few years old but fine."],
}
ZH = {
    "title": ["{item}", "{item} {cond}", "出{item}", "转{item}", "闲置{item}", "{item}，{cond}",
              "自用{item}转让"],
    "cond": ["九成新", "95新", "几乎全新", "正常使用痕迹", "成色很好", "功能完好", "99新"],
    "intro": ["出一台{item}。", "闲置{item}，{cond}。", "{age}买的{item}。", "自用{item}，{cond}。",
              ""],
    "age": ["去年", "前年", "半年前", "三个月前", "刚买不久"],
    "why": ["换了新的，用不上了。", "搬家清理。", "朋友送了新的，这个闲置了。", "买来没怎么用。",
            "孩子长大了用不上。", "断舍离。"],
    "detail": ["背面有轻微划痕，看图。", "电池健康89%。", "配件齐全，有原盒。", "无磕碰无维修。",
               "刚保养过。", "有购买发票。", "正常使用痕迹。", "无烟无宠物家庭。"],
    "meet": ["可以地铁站当面交易。", "同城可自提，也可以发快递。", "邮费自理。", "可当面验货。",
             "周末可以送货上门。", "支持当面交易，满意再付款。"],
    "price": ["不议价。", "价格可小刀。", "诚心要可以商量。", "先到先得。", ""],
    "honest_pay": ["只走平台交易，不接受私下转账。", "请在平台下单付款，谢绝微信转账。",
                   "支持平台担保交易，看货满意再确认收货。", "不需要定金，当面看货后平台付款。",
                   "保证正品，非高仿，有发票，走平台。", "为了双方安全，请不要私下交易。"],
    "parts": ["屏幕碎了，开不了机，当配件卖。", "坏了，懂的来修，按现状出。", "进过水，拆零件用。",
              "缺零件，便宜出给动手能力强的。"],
    "cheap": ["便宜出，搬不走了。", "白菜价，自提。", "有点旧，便宜卖。", "用了几年，还能用。"],
}

SCAM_EN = {
    "too_good_price": ["Urgent sale, need money fast.", "Brand new, sealed, priced to go today.",
                       "Must sell this week, first to pay gets it.", "Genuine, unopened, cheap.",
                       "Price is low because I need cash quickly."],
    "off_platform_payment": ["Payment by bank transfer only.", "PayPal friends and family only.",
                             "I accept Steam or iTunes gift cards.", "USDT or bitcoin accepted.",
                             "Pay me directly by wire transfer to avoid the app fees.",
                             "Zelle or Western Union only, no app payments.",
                             "Send money directly and I ship the same day, the app takes too long."],
    "contact_intro": ["Contact me on {app}: {id}", "Add my {app} {id} for more photos.",
                      "Message me on {app} {id}, I don't check this app.",
                      "Text me {phone} for a quick deal.", "Call {phone}.",
                      "Email me at {email}.", "More pics on {app}: {id}"],
    "deposit_before_viewing": ["Send a deposit first to hold it for you.",
                               "A 20% deposit is required before viewing.",
                               "Pay 500 upfront and I'll reserve it, lots of interest.",
                               "Holding fee required before I show it."],
    "abroad_shipping_only": ["I am currently working abroad, so shipping only.",
                             "I'm overseas on deployment, the courier will deliver it.",
                             "I moved out of the country, can't meet, shipping only.",
                             "I'm working offshore, my agent ships it after payment."],
    "replica": ["1:1 replica, mirror quality, looks exactly like the original.",
                "AAA quality copy, same factory as the original.",
                "Super copy, nobody can tell the difference.",
                "High copy version, comes with box and tags."],
    "phishing_link": ["Buy safely through our secure checkout: {link}",
                      "Verify your payment here {link} and I'll ship.",
                      "Item is reserved, confirm the order at {link}",
                      "Please enter your card details at {link} to claim the delivery."],
}
SCAM_ZH = {
    "too_good_price": ["急售，急用钱。", "全新未拆封，今天就出。", "着急出，谁先付款给谁。",
                       "保证正品，亏本甩卖。", "价格低是因为着急用钱。"],
    "off_platform_payment": ["只接受微信转账。", "支付宝直接转我，不走平台。",
                             "私下交易可以再便宜200。", "银行卡转账，收到款马上发货。",
                             "平台手续费太高，直接转给我。", "可以用购物卡或点卡付款。"],
    "contact_intro": ["加我{app}：{id}", "详情{app}联系：{id}", "平台不常上，{app}聊：{id}",
                      "电话：{phone}", "联系我{phone}", "更多图片加{app} {id}"],
    "deposit_before_viewing": ["先付定金再看货。", "要的话先交300押金，我给你留着。",
                               "先转订金，不然别人就买走了。", "预付一半，见面再付剩下的。"],
    "abroad_shipping_only": ["人在国外，只能快递。", "我现在在海外工作，不能当面，只发快递。",
                             "本人不在本地，只能邮寄，付款后发货。", "已经出国了，东西在朋友那，只能邮寄。"],
    "replica": ["高仿，一比一复刻，做工精细。", "原单品质，和正品一模一样。", "莆田顶级版本，懂的来。",
                "精仿A货，看不出区别。"],
    "phishing_link": ["请在这个链接下单更安全：{link}", "点击链接确认收款：{link}",
                      "付款后去{link}登录账号验证，马上发货。", "客服链接：{link} 填写银行卡领取退款。"],
}

APPS_EN = ["WhatsApp", "Telegram", "WeChat", "QQ", "Line", "Signal"]
APPS_ZH = ["微信", "V信", "vx", "薇信", "扣扣", "QQ", "企鹅"]
HOMOGLYPH_SWAPS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"}
KEYCAPS = "\ufe0f\u20e3"
CN_DIGITS = "零一二三四五六七八九"
EN_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PHISH_DOMAINS = ["xianyu-secure-pay.top", "safe-escrow-checkout.xyz", "goofish-verify.icu",
                 "marketplace-delivery.club", "paypal-refund-center.com", "bit.ly/3kX9qPz",
                 "tinyurl.com/secure-pay", "t.cn/A6xYz9", "escrow-pay.buzz/order"]

# --- chat snippets -------------------------------------------------------------------------

CHAT_HONEST_EN = [
    "Hi, is this still available?", "Can you do {n}?", "Could I pick it up tomorrow at 6pm?",
    "Does it come with the charger?", "I've paid through the app, thanks!",
    "Please pay via the platform and I'll ship tomorrow.", "What's the battery health?",
    "Any scratches on the screen?", "Sorry, I don't do bank transfers, only through the app.",
    "Shipped! Tracking number SF{track}.", "Great, see you at the metro station exit B.",
    "Is the price negotiable?", "Thanks, received it, all good.", "Can you send more photos here?",
    "I'll confirm receipt once I check it.", "Would you take {n} if I collect today?",
    "Meet at the coffee shop near Exit 3 at 2pm?", "No deposit needed, just pay in the app.",
]
CHAT_HONEST_ZH = [
    "你好，还在吗？", "能便宜点吗？{n}行不行", "明天下午可以当面交易吗？", "有没有充电器？",
    "我已经在平台付款了。", "请在平台下单，我明天发货。", "电池健康多少？", "屏幕有划痕吗？",
    "不好意思，我不接受私下转账，走平台吧。", "已发货，顺丰单号SF{track}。", "好的，地铁站B口见。",
    "价格还能商量吗？", "收到了，东西很好，谢谢！", "能在这里多发几张图吗？", "我验完货就确认收货。",
    "今天自提的话{n}可以吗？", "不需要定金，平台付款就行。",
]
CHAT_SCAM_EN = [
    "Add me on {app} {id}, I rarely check this app.", "Text me on {phone} and we'll sort it out.",
    "Pay by bank transfer and I'll ship today.", "Can you pay with PayPal friends and family?",
    "Send a deposit of {n} first to hold it.", "I'm abroad, my courier will deliver after payment.",
    "Please confirm your payment here: {link}", "I sent you too much, refund the difference by transfer.",
    "Send me the 6-digit verification code you just received.", "Email me at {email} for details.",
    "Let's continue on {app}: {id}", "I accept gift cards, {n} in Steam cards works.",
    "The app is down, pay me directly: {link}",
]
CHAT_SCAM_ZH = [
    "加我{app}{id}，平台不常看。", "打我电话{phone}细聊。", "微信转账吧，今天就发货。",
    "支付宝直接转给我，不走平台便宜点。", "先付{n}定金，我给你留着。", "我人在国外，付款后快递寄给你。",
    "点击链接确认收款：{link}", "我多转了钱给你，麻烦把差价退给我。", "把你收到的验证码发给我。",
    "加{app} {id} 发你更多图。", "私下交易吧，平台手续费太高。", "用购物卡付款也行，{n}的卡。",
]


class Generator:
    """Deterministic (seeded) generator of labelled rows."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not security

    # -- small helpers --
    def pick(self, seq: Any) -> Any:
        return self.rng.choice(seq)

    def phone(self, lang: str) -> str:
        rng = self.rng
        digits = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        if lang == "en" and rng.random() < 0.5:
            digits = "07" + "".join(rng.choice("0123456789") for _ in range(9))
        style = rng.random()
        if style < 0.2:
            return digits
        if style < 0.35:
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        if style < 0.5:
            return " ".join(digits)  # spaced digits
        if style < 0.6:
            sep = rng.choice(["🔥", "⭐", "❤️", "👉", "·", "✨"])
            return sep.join(digits)
        if style < 0.7:
            return "".join(d + KEYCAPS for d in digits)
        if style < 0.8:
            return "".join(chr(0xFF10 + int(d)) for d in digits)  # full-width
        if style < 0.9 and lang == "zh":
            return "".join(CN_DIGITS[int(d)] for d in digits)
        if style < 0.9:
            return " ".join(EN_DIGITS[int(d)] for d in digits)
        return digits.replace("0", "O").replace("1", "l", 2)

    def handle(self) -> str:
        rng = self.rng
        name = rng.choice(["jack", "lily", "deal", "shop", "xiao", "mike", "anna", "tech", "best"])
        return f"{name}{rng.choice(['_', '', '.'])}{rng.randint(10, 9999)}"

    def app(self, lang: str) -> str:
        rng = self.rng
        app = rng.choice(APPS_ZH if lang == "zh" else APPS_EN)
        r = rng.random()
        if r < 0.2 and app.isascii():
            return "".join(HOMOGLYPH_SWAPS.get(c, c) if rng.random() < 0.5 else c for c in app)
        if r < 0.35 and app.isascii() and len(app) > 4:
            cut = rng.randint(2, len(app) - 2)
            return app[:cut] + " " + app[cut:]  # "tele gram"
        if r < 0.45 and not app.isascii() and len(app) == 2:
            return app[0] + " " + app[1]  # "微 信"
        return app

    def email(self) -> str:
        user = self.handle().replace(".", "")
        domain = self.pick(["gmail", "qq", "163", "outlook", "proton"])
        if self.rng.random() < 0.4:
            return f"{user} (at) {domain} dot com"
        return f"{user}@{domain}.com"

    def link(self) -> str:
        domain = self.pick(PHISH_DOMAINS)
        prefix = self.pick(["https://", "http://", "", "www."]) if "/" not in domain else ""
        return f"{prefix}{domain}/{self.rng.randint(1000, 99999)}" if "/" not in domain else domain

    def contact_line(self, lang: str, pools: dict[str, list[str]]) -> str:
        template = self.pick(pools["contact_intro"])
        return template.format(app=self.app(lang), id=self.handle(), phone=self.phone(lang),
                               email=self.email())

    # -- sellers --
    def honest_seller(self, new: bool) -> dict[str, Any]:
        rng = self.rng
        if new:
            return {"account_age_days": rng.randint(0, 6), "listings_count": rng.randint(1, 4),
                    "completed_orders": 0}
        age = int(round(10 ** rng.uniform(0.9, 3.4)))
        listings = max(1, int(10 ** rng.uniform(0, 1.8)))
        completed = int(listings * rng.uniform(0, 1.2)) if rng.random() < 0.8 else 0
        # Most honest sellers are rated well; some are honest but middling.
        mean = 4.6 if rng.random() < 0.85 else 3.6
        return self._with_reviews({"account_age_days": age, "listings_count": listings,
                                   "completed_orders": completed}, mean)

    def scam_seller(self, velocity: bool) -> dict[str, Any]:
        rng = self.rng
        if velocity:
            return {"account_age_days": rng.randint(0, 3), "listings_count": rng.randint(8, 60),
                    "completed_orders": 0}
        if rng.random() < 0.25:  # an old account: hijacked (well rated) or a known bad actor
            seller = {"account_age_days": rng.randint(60, 2500),
                      "listings_count": rng.randint(1, 20), "completed_orders": rng.randint(0, 15)}
            return self._with_reviews(seller, 4.5 if rng.random() < 0.5 else 2.7)
        seller = {"account_age_days": rng.randint(0, 30), "listings_count": rng.randint(1, 12),
                  "completed_orders": rng.choice([0, 0, 0, 0, 1, 2])}
        return self._with_reviews(seller, 2.9)

    def _with_reviews(self, seller: dict[str, Any], mean: float) -> dict[str, Any]:
        """Add `reputation` (1-5) and `reviews_count` when the seller has reviews."""
        reviews = int(seller["completed_orders"] * self.rng.uniform(0.3, 0.9))
        if reviews:
            seller["reviews_count"] = reviews
            seller["reputation"] = round(min(5.0, max(1.0, self.rng.gauss(mean, 0.4))), 2)
        return seller

    # -- listings --
    def _item(self, premium: bool | None = None) -> tuple[str, tuple[str, str, int, int, bool]]:
        while True:
            category = self.pick(list(CATALOGUE))
            item = self.pick(CATALOGUE[category])
            if premium is None or item[4] == premium:
                return category, item

    def _price(self, low: int, high: int, factor: float = 1.0) -> int:
        yuan = self.rng.uniform(low, high) * factor
        yuan = max(1, round(yuan, -1) if yuan > 100 else round(yuan))
        if self.rng.random() < 0.3 and yuan > 100:
            yuan = yuan - 1  # 1999-style prices
        return int(yuan * 100)

    def _honest_text(self, lang: str, name: str, extra: list[str]) -> tuple[str, str]:
        p = EN if lang == "en" else ZH
        fill = {"item": name, "cond": self.pick(p["cond"]), "age": self.pick(p["age"])}
        title = self.pick(p["title"]).format(**fill)
        parts = [self.pick(p["intro"]).format(**fill), self.pick(p["why"])]
        parts += self.rng.sample(p["detail"], k=self.rng.randint(0, 2))
        parts += extra
        parts += [self.pick(p["meet"]), self.pick(p["price"])]
        sep = " " if lang == "en" else ""
        return title, sep.join(x for x in parts if x)

    def honest(self, pattern: str, lang: str) -> dict[str, Any]:
        p = EN if lang == "en" else ZH
        extra: list[str] = []
        if pattern == "cheap_item":
            category, item = self._item(premium=False)
            price = self._price(item[2], item[3], self.rng.uniform(0.3, 0.9))
            extra.append(self.pick(p["cheap"]))
        elif pattern == "for_parts":
            category, item = self._item(premium=True)
            price = self._price(item[2], item[3], self.rng.uniform(0.08, 0.3))
            extra.append(self.pick(p["parts"]))
        else:
            category, item = self._item()
            price = self._price(item[2], item[3], self.rng.uniform(0.6, 1.1))
            if pattern == "payment_words":
                extra.append(self.pick(p["honest_pay"]))
        name = item[0] if lang == "en" else item[1]
        title, description = self._honest_text(lang, name, extra)
        new = pattern == "new_seller" or self.rng.random() < 0.15
        return self._row(title, description, price, category, self.honest_seller(new), 0,
                         [pattern], lang)

    def scam(self, pattern: str, lang: str) -> dict[str, Any]:
        rng = self.rng
        pools = SCAM_EN if lang == "en" else SCAM_ZH
        patterns = [pattern]
        # Scams usually combine tricks: add one or two more, sometimes none.
        others = [p for p in SCAM_PATTERNS if p not in (pattern, "new_account_velocity")]
        patterns += rng.sample(others, k=rng.choice([0, 1, 1, 2]))
        if pattern == "new_account_velocity":
            patterns = [pattern] + ([rng.choice(others)] if rng.random() < 0.3 else [])
        premium = (pattern in ("too_good_price", "new_account_velocity", "replica")
                   or rng.random() < 0.7)
        category, item = self._item(premium=premium)
        factor = rng.uniform(0.5, 1.0)
        if "too_good_price" in patterns:
            factor = rng.uniform(0.03, 0.35)
        elif "replica" in patterns:
            factor = rng.uniform(0.1, 0.45)
        elif pattern == "new_account_velocity":
            factor = rng.uniform(0.4, 0.8)
        price = self._price(item[2], item[3], factor)
        name = item[0] if lang == "en" else item[1]
        extra = []
        for p in patterns:
            if p == "contact_details":
                extra.append(self.contact_line(lang, pools))
            elif p == "phishing_link":
                extra.append(self.pick(pools[p]).format(link=self.link()))
            elif p in pools:
                extra.append(self.pick(pools[p]))
        rng.shuffle(extra)
        title, description = self._honest_text(lang, name, extra)
        if rng.random() < 0.3 and extra:  # a hook in the title too
            hook = self.pick(["URGENT", "cheap!!", "brand new", "急出", "全新", "亏本"])
            title = f"{title} {hook}"
        seller = self.scam_seller(pattern == "new_account_velocity")
        return self._row(title, description, price, category, seller, 1, patterns, lang)

    def _row(self, title: str, description: str, price: int, category: str,
             seller: dict[str, int], label: int, patterns: list[str], lang: str) -> dict[str, Any]:
        return {
            "title": title[:120], "description": description,
            "price": {"amount_minor": price, "currency": CURRENCY}, "category": category,
            "seller": seller, "label": label, "patterns": patterns, "lang": lang,
        }

    def listings(self, n: int, scam_share: float = 0.35) -> list[dict[str, Any]]:
        """`n` labelled listings; scams grouped by seller (scammers post several)."""
        rows: list[dict[str, Any]] = []
        seller_no = 0
        rng = self.rng
        while len(rows) < n:
            seller_no += 1
            lang = "zh" if rng.random() < 0.5 else "en"
            if rng.random() < scam_share:
                pattern = SCAM_PATTERNS[seller_no % len(SCAM_PATTERNS)]
                batch = [self.scam(pattern, lang) for _ in range(rng.choice([1, 1, 2, 3]))]
                seller = batch[0]["seller"]
            else:
                pattern = rng.choices(HONEST_PATTERNS, weights=HONEST_WEIGHTS)[0]
                batch = [self.honest(pattern, lang) for _ in range(rng.choice([1, 1, 1, 2]))]
                seller = batch[0]["seller"]
            for row in batch:
                row["seller"] = dict(seller)
                row["seller_id"] = f"gen-{seller_no}"
                if rng.random() < 0.02:
                    row["label"] = 1 - row["label"]  # label noise
                    row["patterns"] = [*row["patterns"], "label_noise"]
            rows.extend(batch)
        return rows[:n]

    def messages(self, n: int, scam_share: float = 0.4) -> list[dict[str, Any]]:
        """`n` labelled chat snippets: {"text", "label", "lang", "seller_id"}."""
        rows = []
        rng = self.rng
        for i in range(n):
            lang = "zh" if rng.random() < 0.5 else "en"
            scam = rng.random() < scam_share
            if scam:
                pool = CHAT_SCAM_ZH if lang == "zh" else CHAT_SCAM_EN
            else:
                pool = CHAT_HONEST_ZH if lang == "zh" else CHAT_HONEST_EN
            text = self.pick(pool).format(
                app=self.app(lang), id=self.handle(), phone=self.phone(lang), email=self.email(),
                link=self.link(), n=rng.choice([50, 100, 200, 300, 500, 800]),
                track=rng.randint(10**9, 10**12),
            )
            if rng.random() < 0.3:
                pool2 = (CHAT_HONEST_ZH if lang == "zh" else CHAT_HONEST_EN)
                opener = self.pick(pool2[:4])
                text = f"{opener} {text}"
            label = int(scam)
            if rng.random() < 0.02:
                label = 1 - label
            rows.append({"text": text, "label": label, "lang": lang, "seller_id": f"msg-{i // 2}"})
        return rows


def generate_listings(n: int = 6000, seed: int = 0) -> list[dict[str, Any]]:
    """`n` labelled listings (see the module docstring for the shape)."""
    return Generator(seed).listings(n)


def generate_messages(n: int = 3000, seed: int = 0) -> list[dict[str, Any]]:
    """`n` labelled chat snippets."""
    return Generator(seed + 1).messages(n)


def iter_examples(seed: int = 0) -> Iterator[dict[str, Any]]:
    """One example listing of every pattern, scam and honest, in both languages."""
    gen = Generator(seed)
    for lang in ("en", "zh"):
        for pattern in SCAM_PATTERNS:
            yield gen.scam(pattern, lang)
        for pattern in HONEST_PATTERNS:
            yield gen.honest(pattern, lang)
