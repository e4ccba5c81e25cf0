"""60 hand-written listings (not from the generator): half scams, half honest,
in English, Chinese and a few other languages. The model trained on
generated data must rank them with ROC AUC >= 0.90: the check that the
generator did not merely teach the model its own phrases.

Tuple: (label, title, description, price in yuan, category, (age days, listings, completed)).
"""

from __future__ import annotations

from sklearn.metrics import roc_auc_score

from tests.trust.test_fraud import trained_model

NEW = (1, 1, 0)
YOUNG = (12, 3, 0)
OLD = (900, 25, 30)

SCAMS = [
    (
        "iPhone 14 Pro Max 512GB sealed",
        "Got it as a company gift, never opened. I only take bank "
        "transfer, courier ships after payment clears.",
        900,
        "phones",
        NEW,
    ),
    (
        "MacBook Pro M3 16 inch",
        "Urgent. I'm away on an oil rig, my shipping agent sends it. Payment upfront please.",
        2500,
        "laptops",
        NEW,
    ),
    (
        "Sony A7 IV body",
        "Like new. Contact me on whats app plus four four seven seven zero zero "
        "nine one two three four five",
        3000,
        "cameras",
        YOUNG,
    ),
    (
        "Canada Goose Expedition parka",
        "AAA grade, same factory as the real one, tags included.",
        700,
        "clothing",
        NEW,
    ),
    (
        "PS5 with two controllers",
        "Quick sale. To reserve it send a 300 deposit via Zelle, then we arrange a viewing.",
        1500,
        "toys",
        NEW,
    ),
    (
        "Dyson V15 Detect",
        "Brand new in box. Order through my secure link: "
        "dyson-outlet-secure.shop/checkout/88 and I'll dispatch today.",
        600,
        "home-appliances",
        YOUNG,
    ),
    (
        "Rolex Submariner",
        "Super clone, 1:1 with original movement. DM for more photos.",
        2800,
        "other",
        YOUNG,
    ),
    (
        "Nintendo Switch OLED",
        "Parents bought two. Pay with Steam gift cards or Apple cards, "
        "I'll send the code for tracking.",
        400,
        "toys",
        NEW,
    ),
    (
        "Brompton M6L folding bike",
        "I'm currently overseas with work, can't meet. DHL delivery only, pay first.",
        2000,
        "bikes",
        NEW,
    ),
    (
        "AirPods Pro 2",
        "Sealed. 50 pieces available, wholesale welcome. Telegram: @airdeal_hk",
        180,
        "other",
        (0, 48, 0),
    ),
    (
        "iPad Pro 12.9 M2",
        "Perfect condition. Reply to my e-mail tony.sell (at) outlook (dot) "
        "com, I don't use this app much.",
        1200,
        "tablets",
        NEW,
    ),
    (
        "Fender American Strat",
        "Leaving the country next week, must go. Crypto (USDT) or PayPal F&F only.",
        1500,
        "musical-instruments",
        YOUNG,
    ),
    (
        "Herman Miller Aeron",
        "Office clearance, 20 chairs. Deposit required to hold, pickup not possible, freight only.",
        500,
        "furniture",
        (1, 22, 0),
    ),
    (
        "Garmin Fenix 7",
        "New. Verify your purchase at garmin-verify-pay.xyz before I ship.",
        450,
        "sports",
        NEW,
    ),
    (
        "Louis Vuitton Neverfull",
        "Mirror quality, nobody will know. Free shipping.",
        450,
        "clothing-women",
        YOUNG,
    ),
    (
        "苹果15 Pro Max 全新未拆",
        "公司年会奖品，急用钱低价出。只收微信转账，付款后顺丰发货。",
        1800,
        "phones",
        NEW,
    ),
    ("华为Mate60 Pro", "加我V❤信：hw➕888➕666，平台不常上线。", 1200, "phones", YOUNG),
    ("戴森吹风机 全新", "电话一五九八八六六七七二二，私聊更便宜。", 300, "home-appliances", NEW),
    ("大疆Mini 4 Pro", "人在海外工作，只能邮寄，不能当面，先付全款。", 1500, "cameras", NEW),
    ("始祖鸟冲锋衣", "顶级复刻，和专柜一比一，莆田直发。", 380, "clothing-men", YOUNG),
    ("索尼相机A7C", "想要的先付500定金，不然不给看货。", 3500, "cameras", NEW),
    (
        "MacBook Air M2",
        "点击链接下单更安全 http://xy-safe-pay.top/o/7712 付款后自动发货",
        1500,
        "laptops",
        NEW,
    ),
    (
        "Switch OLED 全新",
        "今天刚注册，手上有三十台，支付宝转账批发价，量大从优。",
        900,
        "toys",
        (0, 30, 0),
    ),
    ("LV老花包", "原单品质，高仿精品，看不出区别。", 600, "clothing-women", YOUNG),
    ("佳能R6二代", "出国前清仓，便宜卖，加q q 二八七三九一零四四 详聊。", 2500, "cameras", NEW),
    ("AirPods Pro 2代", "全新正品，亏本价，扫我收款码付款，不走平台。", 150, "other", NEW),
    (
        "iPhone 15 Pro 256GB",
        "Neu, versiegelt. Zahlung nur per Überweisung vorab, Versand aus "
        "dem Ausland. WhatsApp 0 1 7 6 - 1 2 3 4 5 6 7",
        350,
        "phones",
        NEW,
    ),
    (
        "PlayStation 5 nueva",
        "Solo envío, estoy en el extranjero. Pago por transferencia "
        "bancaria antes. telegram @ventas_ps5",
        800,
        "toys",
        NEW,
    ),
    (
        "MacBook Pro M2 neuf",
        "Je suis à l'étranger, paiement par virement ou carte cadeau "
        "uniquement. Contact: 06 12 34 56 78",
        1200,
        "laptops",
        NEW,
    ),
    (
        "iPhone 15 Pro 新品",
        "海外発送のみ。先に銀行振込でお願いします。LINE id: sale_jp88",
        900,
        "phones",
        NEW,
    ),
]

HONEST = [
    (
        "IKEA KIVIK sofa",
        "Three-seater, grey. Some pilling on the cushions. Pickup only, third floor without lift.",
        700,
        "furniture",
        NEW,
    ),
    (
        "iPhone 12 for parts",
        "Screen cracked and it won't charge. Selling as is for repair.",
        450,
        "phones",
        OLD,
    ),
    ("Harry Potter hardback set", "All seven books, dust jackets a bit worn.", 180, "books", YOUNG),
    ("Phone case for iPhone 13", "Clear silicone, used a month.", 15, "phones", NEW),
    (
        "MacBook Air M1 8/256",
        "Battery cycle count 210, small dent on the lid. Pay through the "
        "app please, I don't do bank transfers.",
        3900,
        "laptops",
        OLD,
    ),
    ("Kids bike 16 inch", "Our daughter outgrew it. Training wheels included.", 200, "bikes", NEW),
    (
        "Sony A7 III body",
        "Shutter count 18k, always used with a screen protector. Happy to "
        "meet at a camera shop so you can test it.",
        7600,
        "cameras",
        OLD,
    ),
    ("Calculus textbook 8th edition", "Some highlighting in chapters 2-4.", 30, "books", NEW),
    (
        "Uniqlo down jacket, size M",
        "Worn one winter. Ships by SF Express, tracking provided.",
        160,
        "clothing",
        YOUNG,
    ),
    (
        "Yamaha acoustic guitar",
        "New strings last month, comes with a soft case and a capo.",
        950,
        "musical-instruments",
        OLD,
    ),
    (
        "Dyson V11",
        "Works well, battery holds about 40 minutes. No deposit needed, pay in the app "
        "when you collect.",
        1600,
        "home-appliances",
        NEW,
    ),
    (
        "Bugaboo Fox stroller",
        "Used for two kids, washed covers. Collection from Pudong.",
        2600,
        "baby",
        OLD,
    ),
    (
        "Nintendo Switch OLED",
        "With Zelda and Mario Kart. Not a replica, receipt from JD.",
        1800,
        "toys",
        YOUNG,
    ),
    ("Yoga mat", "Purple, 6 mm. Free to a good home almost.", 10, "sports", NEW),
    ("Office chair", "Ergonomic mesh chair, armrest squeaks a little.", 180, "furniture", NEW),
    ("九成新宜家书桌", "搬家出，桌面有轻微划痕，限同城自提。", 150, "furniture", NEW),
    (
        "iPhone 13 128G",
        "电池健康86%，无拆无修，支持平台验机，走平台担保交易。",
        2300,
        "phones",
        OLD,
    ),
    ("婴儿衣服一包", "0-6个月，二十多件，洗干净了。", 40, "baby", NEW),
    ("小米电饭煲", "用了两年，功能正常，内胆有点磨损。", 80, "home-appliances", YOUNG),
    ("佳能R6 单机身", "快门两万，成色很好，可以当面验货，不接受私下转账。", 9800, "cameras", OLD),
    ("捷安特公路车", "骑了一年，刚保养过，送车锁。", 1800, "bikes", YOUNG),
    ("哈利波特全套", "中文版，书角有点磨损。", 120, "books", NEW),
    ("AirPods 二代 左耳坏了", "左耳没声音，当配件卖，便宜出。", 90, "other", OLD),
    ("尤克里里", "孩子学了半年不学了，送琴包。", 150, "musical-instruments", NEW),
    ("始祖鸟Beta LT", "专柜购入，有小票，保证正品，非高仿，平台交易。", 2800, "clothing-men", OLD),
    (
        "Dell Monitor 27 Zoll",
        "Gebraucht, funktioniert einwandfrei. Abholung in Berlin oder Versand über die Plattform.",
        650,
        "other",
        NEW,
    ),
    ("Bicicleta infantil", "Usada, en buen estado. Recogida en Madrid.", 250, "bikes", NEW),
    (
        "Canapé deux places",
        "Bon état, quelques traces d'usure. À récupérer sur place.",
        600,
        "furniture",
        YOUNG,
    ),
    (
        "Kindle Paperwhite",
        "Screen is fine, case included. Meet at the metro, pay in the app.",
        420,
        "tablets",
        NEW,
    ),
    (
        "ニンテンドースイッチ",
        "中古、動作確認済み。アプリ内決済でお願いします。",
        1500,
        "toys",
        YOUNG,
    ),
]


def _record(case):
    _, title, description, price, category, (age, listings, completed) = case
    return {
        "title": title,
        "description": description,
        "price": {"amount_minor": price * 100, "currency": "CNY"},
        "category": category,
        "seller": {
            "account_age_days": age,
            "listings_count": listings,
            "completed_orders": completed,
        },
    }


def test_hand_written_cases_are_balanced_and_plentiful():
    assert len(SCAMS) == len(HONEST) == 30


def test_hand_written_cases_rank_with_roc_auc_at_least_0_90():
    cases = [(1, *c) for c in SCAMS] + [(0, *c) for c in HONEST]
    scores = [s.score for s in trained_model().score_records([_record(c) for c in cases])]
    labels = [c[0] for c in cases]

    auc = roc_auc_score(labels, scores)

    assert auc >= 0.90, f"hand-written ROC AUC {auc:.3f}"
