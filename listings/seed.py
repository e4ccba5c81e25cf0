"""Demo listings for `seed_demo`: a few hundred realistic listings in English
and Chinese across the category tree, with photos drawn by Pillow.

They are made through the services (create, photo_add, publish, reserve,
sell, withdraw, expire), so outbox events exist exactly as in real use;
only timestamps and view counts are back-dated afterwards for realism.
Photo sizes are made synchronously here so the demo needs no broker.
"""

from __future__ import annotations

import io
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from listings import selectors, services
from listings.models import Category, Listing, ListingStatus
from marketplace.money import Money, currency_exponent
from marketplace.seeding import SeedContext

LISTINGS_PER_SCALE = 300

# city -> (lat, lon); seller cities in Chinese map to the same places
CITIES: dict[str, tuple[float, float]] = {
    "Shanghai": (31.2304, 121.4737), "Beijing": (39.9042, 116.4074),
    "Hangzhou": (30.2741, 120.1551), "Shenzhen": (22.5431, 114.0579),
    "Guangzhou": (23.1291, 113.2644), "Chengdu": (30.5728, 104.0668),
    "Hong Kong": (22.3193, 114.1694), "Berlin": (52.5200, 13.4050),
    "Munich": (48.1351, 11.5820), "Paris": (48.8566, 2.3522), "London": (51.5072, -0.1276),
}
CITY_ZH = {"上海": "Shanghai", "北京": "Beijing", "杭州": "Hangzhou", "深圳": "Shenzhen",
           "广州": "Guangzhou", "成都": "Chengdu"}
CITY_NAME_ZH = {v: k for k, v in CITY_ZH.items()}

# Rough CNY -> other currency factors, so a non-CNY deployment gets sane demo prices.
FROM_CNY = {"CNY": 1.0, "EUR": 0.13, "USD": 0.14, "GBP": 0.11, "HKD": 1.1, "JPY": 21.0}

# category slug -> [(English title, Chinese title, attributes, (low, high) CNY)]
CATALOG: dict[str, list[tuple[str, str, dict[str, Any], tuple[int, int]]]] = {
    "phones": [
        ("iPhone 13 128GB", "iPhone 13 128G 国行", {"brand": "Apple", "model": "iPhone 13",
                                                   "storage": "128GB"}, (2200, 3200)),
        ("iPhone 14 Pro 256GB Deep Purple", "iPhone 14 Pro 256G 暗紫色",
         {"brand": "Apple", "model": "iPhone 14 Pro", "storage": "256GB",
          "color": "Deep Purple"}, (4500, 6000)),
        ("Xiaomi 13 256GB", "小米13 256G 白色", {"brand": "Xiaomi", "model": "13",
                                              "storage": "256GB"}, (1800, 2600)),
        ("Huawei Mate 40 Pro", "华为 Mate 40 Pro 8+256", {"brand": "Huawei",
                                                        "model": "Mate 40 Pro",
                                                        "storage": "256GB"}, (1800, 2800)),
        ("Samsung Galaxy S22 128GB", "三星 Galaxy S22 128G", {"brand": "Samsung",
                                                            "model": "Galaxy S22",
                                                            "storage": "128GB"}, (1500, 2500)),
        ("Google Pixel 7, unlocked", "谷歌 Pixel 7 无锁版",
         {"brand": "Google", "model": "Pixel 7", "storage": "128GB", "unlocked": True},
         (1500, 2300)),
    ],
    "laptops": [
        ("MacBook Air M1 13\" 8/256", "MacBook Air M1 13寸 8+256",
         {"brand": "Apple", "model": "MacBook Air M1", "screen_size": "13\"", "ram": "8GB",
          "storage": "256GB"}, (3500, 4800)),
        ("MacBook Pro 14\" M1 Pro 16GB", "MacBook Pro 14寸 M1 Pro 16G",
         {"brand": "Apple", "model": "MacBook Pro 14", "screen_size": "14\"", "ram": "16GB",
          "storage": "512GB"}, (7500, 10000)),
        ("Lenovo ThinkPad X1 Carbon Gen 9", "联想 ThinkPad X1 Carbon 第九代",
         {"brand": "Lenovo", "model": "X1 Carbon Gen 9", "ram": "16GB"}, (3000, 5500)),
        ("Dell XPS 13 9310", "戴尔 XPS 13 9310", {"brand": "Dell", "model": "XPS 13 9310",
                                               "screen_size": "13\""}, (2800, 4500)),
        ("Huawei MateBook 14", "华为 MateBook 14 锐龙版", {"brand": "Huawei",
                                                      "model": "MateBook 14"}, (2500, 3800)),
    ],
    "tablets": [
        ("iPad Air 4 64GB Wi-Fi", "iPad Air 4 64G WiFi版", {"brand": "Apple", "model": "iPad Air 4",
                                                          "storage": "64GB"}, (2000, 2800)),
        ("iPad Pro 11\" 2021 256GB", "iPad Pro 11寸 2021 256G",
         {"brand": "Apple", "model": "iPad Pro 11", "storage": "256GB", "cellular": False},
         (4200, 5600)),
        ("Xiaomi Pad 5 128GB", "小米平板5 128G", {"brand": "Xiaomi", "model": "Pad 5",
                                              "storage": "128GB"}, (900, 1400)),
        ("Huawei MatePad 11", "华为 MatePad 11", {"brand": "Huawei", "model": "MatePad 11"},
         (1200, 1800)),
    ],
    "cameras": [
        ("Sony A7 III body", "索尼 A7M3 单机身", {"brand": "Sony", "type": "mirrorless",
                                              "model": "A7 III", "shutter_count": 18000},
         (6000, 8500)),
        ("Canon EOS 80D with 18-135mm", "佳能 80D 套机 18-135", {"brand": "Canon", "type": "dslr",
                                                            "model": "EOS 80D"}, (2500, 3600)),
        ("Fujifilm X100V silver", "富士 X100V 银色", {"brand": "Fujifilm", "type": "compact",
                                                 "model": "X100V"}, (7000, 9500)),
        ("GoPro HERO10 Black", "GoPro HERO10 运动相机", {"brand": "GoPro", "type": "action"},
         (1200, 1800)),
        ("Nikon FM2 film camera", "尼康 FM2 胶片机", {"brand": "Nikon", "type": "film"},
         (1500, 2500)),
        ("DJI Mini 3 drone", "大疆 Mini 3 无人机", {"brand": "DJI", "type": "drone"},
         (2000, 3000)),
    ],
    "bikes": [
        ("Giant Escape 3 city bike", "捷安特 Escape 3 城市车", {"type": "city", "frame_size": "M",
                                                         "brand": "Giant", "wheel_size": 28},
         (900, 1500)),
        ("Brompton M6L folding bike", "小布 Brompton M6L 折叠车",
         {"type": "folding", "frame_size": "S", "brand": "Brompton", "wheel_size": 16},
         (8000, 12000)),
        ("Specialized Rockhopper MTB", "闪电 Rockhopper 山地车",
         {"type": "mountain", "frame_size": "L", "brand": "Specialized", "wheel_size": 29},
         (2500, 4000)),
        ("Triban RC120 road bike", "迪卡侬 Triban RC120 公路车",
         {"type": "road", "frame_size": "M", "brand": "Decathlon"}, (1200, 1900)),
        ("Kids' bike 16 inch", "儿童自行车 16寸", {"type": "kids", "frame_size": "XS",
                                               "wheel_size": 16}, (150, 400)),
    ],
    "furniture": [
        ("IKEA KIVIK three-seat sofa", "宜家 KIVIK 三人沙发", {"type": "sofa", "material": "fabric",
                                                         "width_cm": 228}, (900, 1800)),
        ("Solid oak dining table", "实木橡木餐桌", {"type": "table", "material": "wood",
                                               "width_cm": 160, "depth_cm": 90}, (1200, 2500)),
        ("Herman Miller Aeron chair", "Herman Miller Aeron 人体工学椅",
         {"type": "chair", "material": "metal"}, (3000, 6000)),
        ("IKEA MALM bed frame 150x200", "宜家 MALM 床架 1.5米", {"type": "bed", "material": "wood"},
         (500, 900)),
        ("Rattan armchair", "藤编扶手椅", {"type": "chair", "material": "rattan"}, (200, 600)),
        ("Standing desk, electric", "电动升降桌", {"type": "desk", "material": "metal",
                                               "width_cm": 140}, (800, 1600)),
    ],
    "clothing-women": [
        ("Uniqlo ultra light down jacket", "优衣库 轻型羽绒服", {"size": "M", "type": "jacket",
                                                        "brand": "Uniqlo"}, (120, 250)),
        ("Zara wool blend coat", "Zara 羊毛混纺大衣",
         {"size": "S", "type": "coat", "brand": "Zara"}, (200, 450)),
        ("Silk midi dress", "真丝连衣裙", {"size": "M", "type": "dress"}, (250, 600)),
        ("Levi's 501 jeans W28", "Levi's 501 牛仔裤 28码", {"size": "S", "type": "jeans",
                                                          "brand": "Levi's"}, (150, 300)),
    ],
    "clothing-men": [
        ("The North Face Nuptse jacket", "北面 Nuptse 羽绒服", {"size": "L", "type": "jacket",
                                                          "brand": "The North Face"},
         (800, 1400)),
        ("Uniqlo oxford shirt", "优衣库 牛津纺衬衫", {"size": "L", "type": "shirt",
                                                 "brand": "Uniqlo"}, (40, 90)),
        ("Navy wool suit 50", "藏青色羊毛西装", {"size": "L", "type": "suit"}, (500, 1200)),
        ("Arc'teryx Beta shell", "始祖鸟 Beta 冲锋衣", {"size": "M", "type": "jacket",
                                                   "brand": "Arc'teryx"}, (1800, 2800)),
    ],
    "shoes": [
        ("Nike Air Force 1 '07", "耐克 Air Force 1 空军一号", {"size_eu": 42, "gender": "unisex",
                                                        "brand": "Nike"}, (300, 550)),
        ("Adidas Ultraboost 22", "阿迪达斯 Ultraboost 22", {"size_eu": 43, "gender": "men",
                                                         "brand": "Adidas"}, (400, 700)),
        ("Dr. Martens 1460 boots", "马丁靴 Dr. Martens 1460", {"size_eu": 38, "gender": "women",
                                                         "brand": "Dr. Martens"}, (500, 900)),
        ("Converse Chuck 70 high", "匡威 Chuck 70 高帮", {"size_eu": 39, "gender": "unisex",
                                                     "brand": "Converse"}, (200, 380)),
    ],
    "books": [
        ("The Three-Body Problem trilogy (Chinese)", "三体 全三册", {"language": "zh",
                                                               "author": "刘慈欣",
                                                               "format": "paperback"},
         (60, 120)),
        ("Harry Potter box set", "哈利·波特 英文原版套装", {"language": "en",
                                                       "author": "J. K. Rowling"}, (200, 450)),
        ("To Live by Yu Hua", "活着 余华", {"language": "zh", "author": "余华"}, (15, 35)),
        ("Clean Code", "代码整洁之道 英文版", {"language": "en", "author": "Robert C. Martin",
                                           "format": "paperback"}, (60, 150)),
        ("One Hundred Years of Solitude", "百年孤独", {"language": "zh", "author": "马尔克斯",
                                                    "format": "hardcover"}, (30, 60)),
    ],
    "toys": [
        ("LEGO Technic Porsche 911", "乐高 机械组 保时捷911", {"age_range": "13+", "brand": "LEGO"},
         (1500, 2400)),
        ("Wooden train set", "木质小火车轨道套装", {"age_range": "3-5"}, (80, 200)),
        ("Rubik's cube collection", "魔方收藏 一套", {"age_range": "9-12"}, (50, 150)),
        ("Plush panda, large", "大号熊猫毛绒玩具", {"age_range": "0-2"}, (40, 120)),
    ],
    "home-appliances": [
        ("Dyson V11 cordless vacuum", "戴森 V11 无线吸尘器", {"type": "vacuum", "brand": "Dyson"},
         (1800, 2800)),
        ("Xiaomi air purifier 4", "小米空气净化器4", {"type": "air_purifier", "brand": "Xiaomi"},
         (400, 700)),
        ("De'Longhi espresso machine", "德龙 半自动咖啡机", {"type": "coffee_machine",
                                                       "brand": "De'Longhi"}, (900, 1800)),
        ("Panasonic rice cooker", "松下 电饭煲", {"type": "rice_cooker", "brand": "Panasonic"},
         (200, 500)),
        ("Midea microwave 20L", "美的 微波炉 20升", {"type": "microwave", "brand": "Midea"},
         (150, 300)),
    ],
    "sports": [
        ("Yonex Astrox 88 badminton racket", "尤尼克斯 天斧88 羽毛球拍",
         {"sport": "badminton", "brand": "Yonex"}, (500, 900)),
        ("Adjustable dumbbells 2x24 kg", "可调节哑铃 2x24公斤", {"sport": "fitness"},
         (600, 1200)),
        ("Naturehike 2-person tent", "挪客 双人帐篷", {"sport": "camping", "brand": "Naturehike"},
         (250, 500)),
        ("Salomon ski boots 27.5", "萨洛蒙 滑雪鞋 27.5", {"sport": "skiing", "brand": "Salomon"},
         (700, 1400)),
        ("Wilson tennis racket", "威尔胜 网球拍", {"sport": "tennis", "brand": "Wilson"},
         (300, 700)),
    ],
    "musical-instruments": [
        ("Yamaha F310 acoustic guitar", "雅马哈 F310 民谣吉他", {"type": "guitar",
                                                          "brand": "Yamaha"}, (500, 800)),
        ("Casio PX-S1000 digital piano", "卡西欧 PX-S1000 电钢琴", {"type": "piano_keyboard",
                                                              "brand": "Casio"}, (2200, 3200)),
        ("Violin 4/4 with case", "4/4 小提琴 带琴盒", {"type": "violin"}, (600, 1500)),
        ("Roland TD-1K electronic drums", "罗兰 TD-1K 电子鼓", {"type": "drums", "brand": "Roland"},
         (2000, 3000)),
        ("Soprano ukulele", "尤克里里 21寸", {"type": "ukulele"}, (100, 250)),
    ],
    "baby": [
        ("Babyzen YOYO2 stroller", "Babyzen YOYO2 婴儿推车", {"type": "stroller",
                                                           "brand": "Babyzen"}, (1500, 2600)),
        ("Cybex car seat", "Cybex 儿童安全座椅", {"type": "car_seat", "brand": "Cybex"},
         (800, 1500)),
        ("Ergobaby carrier", "Ergobaby 婴儿背带", {"type": "carrier", "brand": "Ergobaby"},
         (300, 600)),
        ("Wooden crib 120x60", "实木婴儿床", {"type": "crib"}, (300, 800)),
    ],
    "other": [
        ("Kindle Paperwhite 5", "Kindle Paperwhite 5 电子书阅读器", {}, (500, 800)),
        ("Mechanical keyboard, brown switches", "机械键盘 茶轴", {}, (150, 450)),
        ("Nintendo Switch OLED", "任天堂 Switch OLED 日版", {}, (1500, 2100)),
        ("Vintage desk lamp", "复古台灯", {}, (80, 250)),
    ],
}

CATEGORY_COLOURS = {
    "phones": (52, 73, 94), "laptops": (44, 62, 80), "tablets": (41, 128, 185),
    "cameras": (30, 30, 30), "bikes": (39, 174, 96), "furniture": (160, 110, 70),
    "clothing-women": (199, 80, 120), "clothing-men": (70, 90, 140), "shoes": (211, 84, 0),
    "books": (142, 68, 173), "toys": (241, 196, 15), "home-appliances": (127, 140, 141),
    "sports": (22, 160, 133), "musical-instruments": (192, 57, 43), "baby": (236, 160, 180),
    "other": (90, 90, 90),
}

STATUS_MIX = [  # (status, weight)
    ("active", 76), ("reserved", 4), ("sold", 7), ("draft", 5), ("withdrawn", 4),
    ("expired", 4),
]

DESCRIPTIONS_EN = [
    "Selling because I upgraded. Everything works, {condition} condition.",
    "Moving abroad next month, so this has to go. {condition_cap}, no hidden faults.",
    "Bought last year, used only a handful of times. Original box included.",
    "Well looked after, a few light marks from normal use. Happy to show it working.",
    "Clearing out the flat. Price is fair; serious buyers please message me.",
]
DESCRIPTIONS_ZH = [
    "换新了所以出，功能一切正常，{condition}。",
    "下个月搬家，便宜出。{condition}，无暗病。",
    "去年购入，只用过几次，配件齐全，带原包装。",
    "爱惜使用，有正常使用痕迹，可当面验货。",
    "清理闲置，价格实在，诚心要的私聊。",
]
CONDITION_WORDS = {
    "new": ("brand new", "全新"), "like_new": ("like new", "九九新"),
    "good": ("good", "九成新"), "fair": ("fair", "八成新，有使用痕迹"),
    "for_parts": ("for parts", "故障机，仅供拆件"),
}
SUFFIXES_EN = ["", "", " - barely used", " (with box)", " - quick sale"]
SUFFIXES_ZH = ["", "", " 几乎全新", " 带原装盒", " 急出"]
FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
]


@lru_cache(maxsize=8)
def _font(size: int) -> tuple[Any, bool]:
    """(font, can draw Chinese)."""
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size), "dejavu" not in path.lower()
    return ImageFont.load_default(size=size), False


def _shade(colour: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    r, g, b = colour
    return tuple(int(c + (255 - c) * amount) for c in (r, g, b))  # type: ignore[return-value]


def draw_photo(*, slug: str, text: str, variant: int, rng: Any) -> bytes:
    """A 600x450 picture: category colour, a simple object shape, the item name."""
    width, height = 600, 450
    base = CATEGORY_COLOURS.get(slug, (90, 90, 90))
    image = Image.new("RGB", (width, height), _shade(base, 0.75 if variant else 0.85))
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2 + rng.randint(-40, 40), 190 + rng.randint(-20, 20)
    if slug in ("phones", "tablets"):
        w, h = (110, 210) if slug == "phones" else (220, 160)
        draw.rounded_rectangle((cx - w // 2, cy - h // 2, cx + w // 2, cy + h // 2), 18,
                               fill=base, outline=(20, 20, 20), width=4)
        draw.rectangle((cx - w // 2 + 10, cy - h // 2 + 14, cx + w // 2 - 10, cy + h // 2 - 14),
                       fill=_shade(base, 0.5))
    elif slug == "laptops":
        draw.rectangle((cx - 140, cy - 100, cx + 140, cy + 60), fill=base, outline=(20, 20, 20),
                       width=4)
        draw.polygon([(cx - 170, cy + 60), (cx + 170, cy + 60), (cx + 190, cy + 90),
                      (cx - 190, cy + 90)], fill=_shade(base, 0.3))
    elif slug == "bikes":
        for dx in (-110, 110):
            draw.ellipse((cx + dx - 70, cy - 10, cx + dx + 70, cy + 130), outline=base, width=8)
        draw.line([(cx - 110, cy + 60), (cx - 20, cy - 40), (cx + 110, cy + 60),
                   (cx + 40, cy - 40), (cx - 20, cy - 40)], fill=base, width=8)
    elif slug in ("cameras", "home-appliances"):
        draw.rounded_rectangle((cx - 150, cy - 90, cx + 150, cy + 100), 20, fill=base)
        draw.ellipse((cx - 70, cy - 70, cx + 70, cy + 70), fill=_shade(base, 0.4),
                     outline=(10, 10, 10), width=6)
    elif slug in ("books",):
        for i in range(3):
            draw.rectangle((cx - 120 + i * 20, cy - 100 + i * 15, cx + 60 + i * 20,
                            cy + 110 + i * 15), fill=_shade(base, 0.15 * i),
                           outline=(30, 30, 30), width=3)
    else:
        draw.ellipse((cx - 120, cy - 120, cx + 120, cy + 120), fill=base)
        draw.regular_polygon((cx, cy, 70), 3 + variant + rng.randint(0, 3),
                             fill=_shade(base, 0.6))
    font, _ = _font(30)
    bbox = draw.textbbox((0, 0), text, font=font)
    tx = max(10, (width - (bbox[2] - bbox[0])) // 2)
    draw.rectangle((0, height - 80, width, height), fill=(255, 255, 255))
    draw.text((tx, height - 62), text, fill=(30, 30, 30), font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=82)
    return out.getvalue()


def _price(rng: Any, low: int, high: int) -> Money:
    currency = settings.MARKETPLACE_CURRENCY
    major = rng.uniform(low, high) * FROM_CNY.get(currency, 1.0)
    # Round like people do: to 10 above 100, to 5 above 20.
    step = 50 if major >= 1000 else 10 if major >= 100 else 5 if major >= 20 else 1
    major = max(step, int(round(major / step) * step))
    if rng.random() < 0.3 and major > 100:
        major -= 1  # 999 instead of 1000
    return Money(major * 10 ** currency_exponent(currency), currency)


def _fill_attributes(schema: list[dict[str, Any]], given: dict[str, Any], rng: Any
                     ) -> dict[str, Any]:
    """The catalog's attributes plus plausible values for any other required one."""
    values = dict(given)
    for spec in schema:
        if spec["name"] in values or not spec.get("required"):
            continue
        if spec["type"] == "choice":
            values[spec["name"]] = rng.choice(spec["choices"])
        elif spec["type"] == "integer":
            values[spec["name"]] = rng.randint(spec.get("min", 1), min(spec.get("max", 99), 99))
        elif spec["type"] == "boolean":
            values[spec["name"]] = rng.random() < 0.5
        else:
            values[spec["name"]] = "n/a"
    return values


def _city_of(user: Any, rng: Any) -> str:
    city = CITY_ZH.get(user.city, user.city)
    return city if city in CITIES else rng.choice(list(CITIES))


def _weighted(rng: Any, options: list[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def seed_listings(ctx: SeedContext) -> None:
    users = list(ctx.shared.get("users") or [])
    if len(users) < 2:
        ctx.say("  no demo users to sell anything; skipping listings")
        return
    rng = ctx.rng
    categories = {c.slug: c for c in Category.objects.all()}
    schemas = {slug: selectors.category_schema(category=c, categories=categories.values())
               for slug, c in categories.items()}
    slugs = [s for s in CATALOG if s in categories]
    total = max(1, round(LISTINGS_PER_SCALE * ctx.scale))
    now = timezone.now()
    created: list[Listing] = []
    counts: dict[str, int] = {}
    _, cjk_font = _font(30)

    for index in range(total):
        seller = rng.choice(users)
        chinese = "zh-Hans" in (seller.languages or [])[:1] or (
            "zh-Hans" in (seller.languages or []) and rng.random() < 0.5)
        slug = rng.choice(slugs)
        en_title, zh_title, attributes, (low, high) = rng.choice(CATALOG[slug])
        condition = _weighted(rng, [("new", 8), ("like_new", 30), ("good", 40), ("fair", 17),
                                    ("for_parts", 5)])
        word_en, word_zh = CONDITION_WORDS[condition]
        if chinese:
            title = (zh_title + rng.choice(SUFFIXES_ZH))[:120]
            description = rng.choice(DESCRIPTIONS_ZH).format(condition=word_zh)
        else:
            title = (en_title + rng.choice(SUFFIXES_EN))[:120]
            description = rng.choice(DESCRIPTIONS_EN).format(
                condition=word_en, condition_cap=word_en.capitalize())
        price = _price(rng, low, high)
        if condition == "for_parts":
            price = Money(max(100, price.amount_minor // 4 // 100 * 100), price.currency)
        city = _city_of(seller, rng)
        lat, lon = CITIES[city]
        listing = services.listing_create(
            seller=seller, title=title, description=description, category=categories[slug],
            condition=condition, price=price, negotiable=rng.random() < 0.6,
            location={"lat": round(lat + rng.uniform(-0.08, 0.08), 5),
                      "lon": round(lon + rng.uniform(-0.08, 0.08), 5),
                      "city": CITY_NAME_ZH.get(city, city) if chinese else city},
            shipping={"ships": rng.random() < 0.6, "pickup": True} if rng.random() < 0.8
            else {"ships": True, "pickup": False},
            attributes=_fill_attributes(schemas[slug], attributes, rng),
        )
        label = zh_title if chinese and cjk_font else en_title
        for variant in range(rng.choice((1, 1, 2))):
            data = draw_photo(slug=slug, text=label[:34], variant=variant, rng=rng)
            photo = services.photo_add(
                listing=listing, actor=seller,
                upload=SimpleUploadedFile(f"demo-{index}-{variant}.jpg", data, "image/jpeg"),
            )
            # Sizes now, not via the broker: the demo must work without one.
            services.photo_make_variants(photo_id=photo.id)

        status = _weighted(rng, STATUS_MIX)
        age = timedelta(days=rng.uniform(0, 50), hours=rng.uniform(0, 23))
        if status != "draft":
            services.listing_publish(listing=listing, actor=seller)
            listing.refresh_from_db(fields=["status"])
            if listing.status == "pending_review":
                # The fraud model held it: it waits for a moderator, like a real one.
                status = "pending_review"
        if status in ("reserved", "sold"):
            services.listing_reserve(listing=listing, order_ref=f"demo-order-{index}")
        if status == "sold":
            services.listing_mark_sold(listing=listing, order_ref=f"demo-order-{index}")
        if status == "withdrawn":
            services.listing_withdraw(listing=listing, actor=seller)
        if status == "expired":
            age = timedelta(days=settings.LISTING_EXPIRY_DAYS + rng.uniform(1, 20))
            Listing.objects.filter(pk=listing.pk).update(expires_at=now - timedelta(hours=1))
            services.listing_expire(listing=listing)
        _backdate(listing, now - age, views=rng.randint(0, 400) if status != "draft" else 0)
        created.append(listing)
        counts[status] = counts.get(status, 0) + 1
        if index % 10 == 9 or index == total - 1:
            ctx.progress("listings", index + 1, total)

    favourites = _seed_favourites(ctx, users, created)
    ctx.shared["listings"] = created
    ctx.shared["categories"] = list(categories.values())
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s, _ in STATUS_MIX)
    if counts.get("pending_review"):
        summary += f", {counts['pending_review']} held for review"
    ctx.say(f"  {len(created)} listings ({summary}), {favourites} favourites")


def _backdate(listing: Listing, created_at: Any, *, views: int) -> None:
    """Spread the demo over the past weeks (published a little after creation)."""
    listing.refresh_from_db(fields=["published_at", "status"])
    published_at = created_at + timedelta(minutes=20) if listing.published_at else None
    update: dict[str, Any] = {"created_at": created_at, "view_count": F("view_count") + views}
    if published_at is not None:
        update["published_at"] = published_at
        if listing.status != ListingStatus.EXPIRED:
            update["expires_at"] = published_at + timedelta(days=settings.LISTING_EXPIRY_DAYS)
    Listing.objects.filter(pk=listing.pk).update(**update)


def _seed_favourites(ctx: SeedContext, users: list[Any], listings: list[Listing]) -> int:
    visible = [listing for listing in listings if listing.status in ("active", "reserved")]
    added = 0
    for user in users:
        candidates = [listing for listing in visible if listing.seller_id != user.pk]
        for listing in ctx.rng.sample(candidates, min(len(candidates), ctx.rng.randint(3, 12))):
            added += int(services.favourite_add(listing=listing, user=user))
    return added
