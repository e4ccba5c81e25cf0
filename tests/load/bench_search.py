#!/usr/bin/env python
"""Search benchmark: bulk indexing into osmem-server, then /api/search latency.

    .venv/bin/python tests/load/bench_search.py [--count 100000]

1. Creates (when missing) and migrates the benchmark database (DATABASE_URL,
   default postgres://postgres@127.0.0.1:5432/marketplace_bench_search): the
   search view validates `category` against the category rows the data
   migration makes. No listing rows are written.
2. Starts its own osmem-server (as `make run` does: GOGC=200; --port picks
   the port) and generates N realistic listings (English and Chinese titles
   over every category, prices, conditions, geo around ten cities, about 8%
   accessories) as search documents built by the project's
   own `listing_to_document`, so the mapping, analysis and derived fields
   (accessory flag, split title, suggestions) are the real ones.
3. Bulk-loads them with `elasticsearch.helpers.parallel_bulk` from --threads
   threads (2 by default, as `search_reindex`; 1: `streaming_bulk`),
   chunk_size 2000, refresh off, and prints docs/s (target >= 2,000) and
   osmem's memory (VmRSS and VmHWM from /proc/<pid>/status).
   Then "osmem floor": osmem's own CPU for bare requests over the whole
   index (count, newest 20, the facet aggregation, the ranking clauses),
   what any query matching that much costs before our query adds anything.
4. Latency through Django's test client (in-process, API_THROTTLING=off):
   p50/p95/p99 of GET /api/search for a fixed mix of 200 queries (text in
   both languages and with typos, category/price/condition filters, geo
   radius, sorts, browsing; facets always on), target p95 < 100 ms; and of
   GET /api/search/suggest for 200 prefixes, target p95 < 20 ms.

It is a benchmark, not a test: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/marketplace_bench_search"
os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
os.environ["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
os.environ["API_THROTTLING"] = "off"
os.environ["DJANGO_DEBUG"] = "false"
os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
os.environ["ELASTICSEARCH_INDEX_PREFIX"] = "bench"
os.environ.setdefault("ELASTICSEARCH_TIMEOUT", "120")
os.environ.setdefault("LOG_LEVEL", "WARNING")

# --- the catalogue the listings are drawn from -------------------------------------------

CITIES = [
    ("Shanghai", 31.2304, 121.4737),
    ("Beijing", 39.9042, 116.4074),
    ("Shenzhen", 22.5431, 114.0579),
    ("Guangzhou", 23.1291, 113.2644),
    ("Hangzhou", 30.2741, 120.1551),
    ("Chengdu", 30.5728, 104.0668),
    ("Nanjing", 32.0603, 118.7969),
    ("Wuhan", 30.5928, 114.3055),
    ("Suzhou", 31.2990, 120.5853),
    ("Xi'an", 34.3416, 108.9398),
]
CITY_WEIGHTS = [18, 16, 12, 10, 10, 8, 7, 7, 6, 6]

# slug: (weight, price range in yuan, items as (English, Chinese), extras EN, extras ZH,
#        accessories as (English, Chinese))
CATALOG: dict[str, tuple[int, tuple[int, int], list, list, list, list]] = {
    "phones": (
        14,
        (300, 7000),
        [
            ("iPhone 13", "苹果 iPhone13"),
            ("iPhone 14 Pro", "iPhone14 Pro"),
            ("iPhone 12 mini", "iPhone12 mini"),
            ("iPhone 11", "苹果11"),
            ("Samsung Galaxy S22", "三星 Galaxy S22"),
            ("Huawei Mate 40 Pro", "华为 Mate40 Pro"),
            ("Huawei P50", "华为 P50"),
            ("Xiaomi 13", "小米13"),
            ("Redmi Note 12", "红米 Note12"),
            ("Google Pixel 7", "谷歌 Pixel 7"),
            ("OPPO Reno 8", "OPPO Reno8 手机"),
            ("vivo X90", "vivo X90 手机"),
            ("Honor 90", "荣耀90"),
        ],
        ["128GB", "256GB", "unlocked", "battery 90%", "dual SIM", "5G", "like new"],
        ["128G", "256G", "国行", "电池90%", "99新", "九成新", "无拆修"],
        [("case", "手机壳"), ("charger", "充电器"), ("screen protector", "钢化膜")],
    ),
    "laptops": (
        8,
        (800, 12000),
        [
            ("MacBook Air M1", "苹果 MacBook Air M1"),
            ("MacBook Pro 14", "MacBook Pro 14寸"),
            ("ThinkPad X1 Carbon", "联想 ThinkPad X1"),
            ("Lenovo Legion 5 gaming laptop", "拯救者 游戏本"),
            ("Dell XPS 13", "戴尔 XPS13"),
            ("HP Pavilion laptop", "惠普 笔记本电脑"),
            ("ASUS ROG laptop", "华硕 ROG 游戏本"),
            ("Huawei MateBook 14", "华为 MateBook14 笔记本"),
        ],
        ["16GB", "512GB SSD", "i7", "barely used", "with charger"],
        ["16G", "512G", "i7", "成色新", "送电脑包"],
        [("sleeve", "电脑包"), ("charger", "充电器"), ("stand", "支架")],
    ),
    "tablets": (
        4,
        (500, 6000),
        [
            ("iPad Air 4", "iPad Air4"),
            ("iPad Pro 11", "iPad Pro 11寸"),
            ("iPad 9th gen", "iPad 9代"),
            ("Huawei MatePad", "华为 MatePad 平板"),
            ("Xiaomi Pad 5", "小米平板5"),
            ("Galaxy Tab S7", "三星 平板 Tab S7"),
        ],
        ["64GB", "WiFi", "with pencil", "cellular"],
        ["64G", "WiFi版", "带笔", "插卡版"],
        [("case", "保护壳"), ("keyboard cover", "键盘保护套")],
    ),
    "cameras": (
        5,
        (300, 15000),
        [
            ("Canon EOS 80D", "佳能 80D 单反"),
            ("Sony A7 III", "索尼 A7M3 微单"),
            ("Nikon D750", "尼康 D750 单反"),
            ("Fujifilm X-T4", "富士 XT4 相机"),
            ("GoPro HERO10", "GoPro 运动相机"),
            ("DJI Mini 3 drone", "大疆 Mini3 无人机"),
            ("Instax Mini 11", "拍立得 mini11"),
            ("Sony 50mm f1.8 lens", "索尼 50mm 定焦镜头"),
        ],
        ["body only", "with kit lens", "low shutter count", "two batteries"],
        ["单机身", "带套头", "快门数少", "送电池"],
        [("camera bag", "相机包"), ("tripod", "三脚架")],
    ),
    "bikes": (
        8,
        (200, 9000),
        [
            ("Giant Escape hybrid bike", "捷安特 自行车"),
            ("Trek Marlin mountain bike", "崔克 山地车"),
            ("Merida mountain bike", "美利达 山地自行车"),
            ("Specialized road bike", "闪电 公路车"),
            ("Brompton folding bike", "小布 折叠车"),
            ("Dahon folding bicycle", "大行 折叠自行车"),
            ("Kids bike 16 inch", "儿童自行车 16寸"),
            ("Electric bike", "雅迪 电动车"),
            ("Fixed gear bike", "死飞 单车"),
        ],
        ["size M", "21 speed", "disc brakes", "recently serviced"],
        ["M码", "21速", "碟刹", "刚保养"],
        [("helmet", "头盔"), ("bike lock", "车锁"), ("phone mount", "手机支架")],
    ),
    "furniture": (
        10,
        (50, 6000),
        [
            ("IKEA sofa 3-seat", "宜家 三人沙发"),
            ("leather couch", "真皮沙发"),
            ("sofa bed", "沙发床"),
            ("solid wood dining table", "实木餐桌"),
            ("coffee table", "茶几"),
            ("office chair", "人体工学椅"),
            ("standing desk", "升降书桌"),
            ("bookcase", "书架"),
            ("double bed 1.8m", "1.8米双人床"),
            ("wardrobe", "衣柜"),
        ],
        ["grey", "pick up only", "moving sale", "like new"],
        ["灰色", "自提", "搬家转让", "九成新"],
        [("sofa cover", "沙发套"), ("cushions", "靠垫")],
    ),
    "clothing-women": (
        6,
        (20, 3000),
        [
            ("Zara summer dress", "碎花连衣裙"),
            ("wool coat", "羊毛大衣"),
            ("high waist jeans", "高腰牛仔裤"),
            ("down jacket", "羽绒服 女"),
            ("knit sweater", "针织毛衣"),
            ("Hanfu skirt", "汉服 马面裙"),
        ],
        ["size S", "size M", "worn once", "tags on"],
        ["S码", "M码", "只穿过一次", "吊牌在"],
        [],
    ),
    "clothing-men": (
        5,
        (20, 4000),
        [
            ("Uniqlo down jacket", "优衣库 羽绒服"),
            ("The North Face jacket", "北面 冲锋衣"),
            ("Levi's 501 jeans", "李维斯 牛仔裤"),
            ("navy suit", "西装 套装"),
            ("white shirt", "白衬衫"),
            ("Nike hoodie", "耐克 卫衣"),
        ],
        ["size L", "size XL", "barely worn"],
        ["L码", "XL码", "几乎没穿"],
        [],
    ),
    "shoes": (
        5,
        (50, 2500),
        [
            ("Nike Air Jordan 1", "AJ1 篮球鞋"),
            ("Adidas Ultraboost running shoes", "阿迪达斯 跑鞋"),
            ("Nike Air Force 1 sneakers", "耐克 空军一号 运动鞋"),
            ("Dr. Martens boots", "马丁靴"),
            ("Converse high tops", "匡威 帆布鞋"),
            ("hiking boots", "登山鞋"),
        ],
        ["EU 42", "EU 38", "worn a few times", "with box"],
        ["42码", "38码", "穿过几次", "带鞋盒"],
        [],
    ),
    "books": (
        7,
        (5, 500),
        [
            ("Harry Potter box set", "哈利波特 全套"),
            ("The Three-Body Problem", "三体 全集"),
            ("Python Crash Course", "Python编程 从入门到实践"),
            ("calculus textbook", "高等数学 教材"),
            ("IELTS prep books", "雅思 真题"),
            ("children's picture books", "儿童绘本 一套"),
            ("Dream of the Red Chamber", "红楼梦"),
        ],
        ["paperback", "hardcover", "no notes"],
        ["平装", "精装", "无笔记"],
        [],
    ),
    "toys": (
        5,
        (20, 3500),
        [
            ("LEGO Technic", "乐高 机械组"),
            ("LEGO City", "乐高 城市系列"),
            ("Nintendo Switch OLED", "任天堂 Switch OLED"),
            ("PlayStation 5", "PS5 游戏机"),
            ("board game Catan", "卡坦岛 桌游"),
            ("plush bear", "毛绒玩具 大熊"),
        ],
        ["complete", "with box", "two controllers"],
        ["零件齐全", "带盒子", "双手柄"],
        [("Switch case", "Switch 收纳包")],
    ),
    "home-appliances": (
        8,
        (50, 6000),
        [
            ("Dyson V11 vacuum", "戴森 V11 吸尘器"),
            ("robot vacuum", "扫地机器人"),
            ("Samsung fridge", "三星 冰箱"),
            ("Haier fridge", "海尔 冰箱"),
            ("washing machine 8kg", "小天鹅 滚筒洗衣机"),
            ("microwave", "美的 微波炉"),
            ("air conditioner 1.5hp", "格力 空调"),
            ("coffee machine", "咖啡机"),
            ("rice cooker", "电饭煲"),
            ("air purifier", "空气净化器"),
        ],
        ["works perfectly", "energy efficient", "moving sale"],
        ["功能正常", "一级能效", "搬家出"],
        [("vacuum filter", "滤网 配件")],
    ),
    "sports": (
        5,
        (20, 3000),
        [
            ("yoga mat", "瑜伽垫"),
            ("adjustable dumbbells", "可调节哑铃"),
            ("foldable treadmill", "折叠跑步机"),
            ("tennis racket", "网球拍"),
            ("badminton racket", "羽毛球拍"),
            ("camping tent", "露营帐篷"),
            ("skis 170cm", "滑雪板"),
        ],
        ["barely used", "with bag"],
        ["几乎没用", "送收纳袋"],
        [],
    ),
    "musical-instruments": (
        4,
        (100, 9000),
        [
            ("Yamaha acoustic guitar", "雅马哈 民谣吉他"),
            ("Fender electric guitar", "芬达 电吉他"),
            ("digital piano 88 keys", "电钢琴 88键"),
            ("upright piano", "立式钢琴"),
            ("violin 4/4", "小提琴"),
            ("ukulele", "尤克里里"),
            ("electronic drum kit", "电子鼓"),
        ],
        ["beginner", "with case", "recently tuned"],
        ["初学者", "送琴包", "刚调过音"],
        [("guitar capo", "变调夹 配件")],
    ),
    "baby": (
        5,
        (30, 4000),
        [
            ("Bugaboo stroller", "婴儿推车"),
            ("baby car seat", "儿童安全座椅"),
            ("baby crib", "婴儿床"),
            ("baby carrier", "婴儿背带"),
            ("high chair", "宝宝餐椅"),
            ("breast pump", "吸奶器"),
        ],
        ["clean", "no accidents", "foldable"],
        ["干净", "无事故", "可折叠"],
        [("stroller rain cover", "推车雨罩")],
    ),
    "other": (
        5,
        (20, 2000),
        [
            ("AirPods Pro", "AirPods Pro 耳机"),
            ("Sony noise cancelling headphones", "索尼 降噪耳机"),
            ("Apple Watch", "苹果手表"),
            ("Kindle Paperwhite", "Kindle 电子书阅读器"),
            ("power bank 20000mAh", "小米 充电宝"),
            ("suitcase 28 inch", "行李箱 28寸"),
        ],
        ["works fine", "with box"],
        ["正常使用", "带盒"],
        [("watch strap", "表带")],
    ),
}
CONDITIONS = ["new", "like_new", "good", "fair", "for_parts"]
CONDITION_WEIGHTS = [8, 25, 45, 18, 4]
DESCRIPTIONS_EN = [
    "Selling because I upgraded.",
    "Works perfectly, small scratches from normal use.",
    "Moving abroad, everything must go.",
    "Pick up near the metro or I can ship.",
    "Price is slightly negotiable.",
    "Bought last year, kept in a smoke-free home.",
    "Original box and receipt included.",
    "No returns, please ask questions before buying.",
]
DESCRIPTIONS_ZH = [
    "换新了所以出，功能一切正常。",
    "自用闲置，有轻微使用痕迹。",
    "搬家低价转让，需自提。",
    "可小刀，诚心要的私聊。",
    "包装盒和发票都在。",
    "同城可面交，外地包邮。",
    "无拆无修，放心购买。",
    "去年买的，几乎没怎么用。",
]


def make_listing(n: int, rng: random.Random, now: datetime) -> tuple[Any, str]:
    """A listing-like object with everything `listing_to_document` reads."""
    slugs = list(CATALOG)
    slug = rng.choices(slugs, weights=[CATALOG[s][0] for s in slugs])[0]
    _w, (low, high), items, extras_en, extras_zh, accessories = CATALOG[slug]
    item_en, item_zh = rng.choice(items)
    language = rng.choices(["zh", "en", "mixed"], weights=[55, 38, 7])[0]
    accessory = accessories and rng.random() < 0.12
    if accessory:
        acc_en, acc_zh = rng.choice(accessories)
        title = f"{item_en} {acc_en}" if language == "en" else f"{item_zh} {acc_zh}"
        price = rng.randint(10, 300)
    else:
        if language == "en":
            title = f"{item_en}, {rng.choice(extras_en)}"
        elif language == "zh":
            title = f"{item_zh} {rng.choice(extras_zh)}"
        else:
            title = f"{item_en} {item_zh} {rng.choice(extras_zh)}"
        # Prices cluster low in the range, as second-hand prices do.
        price = int(low + (high - low) * rng.random() ** 2)
    pool = DESCRIPTIONS_EN if language == "en" else DESCRIPTIONS_ZH
    description = " ".join(rng.sample(pool, 2))
    city, lat, lon = rng.choices(CITIES, weights=CITY_WEIGHTS)[0]
    published = now - timedelta(seconds=rng.randint(0, 60 * 86400))
    listing = SimpleNamespace(
        id=f"00000000-0000-7000-8000-{n:012d}",
        title=title,
        description=description,
        attributes={},
        category=SimpleNamespace(slug=slug),
        condition=rng.choices(CONDITIONS, weights=CONDITION_WEIGHTS)[0],
        price_minor=max(1, price) * 100,
        price_currency="CNY",
        negotiable=rng.random() < 0.5,
        ships=rng.random() < 0.7,
        pickup=rng.random() < 0.9,
        location_city=city,
        location_lat=round(lat + rng.uniform(-0.15, 0.15), 5),
        location_lon=round(lon + rng.uniform(-0.15, 0.15), 5),
        seller_id=f"00000000-0000-7000-9000-{rng.randint(1, 20000):012d}",
        published_at=published,
        updated_at=published,
    )
    return listing, slug


def build_documents(count: int, seed: int) -> list[dict[str, Any]]:
    from listings.models import Category
    from search.documents import listing_to_document

    by_slug = {c.slug: c for c in Category.objects.select_related("parent")}
    chains: dict[str, list[Any]] = {}
    for slug, category in by_slug.items():
        chain, node = [], category
        while node is not None:
            chain.append(node)
            node = node.parent
        chains[slug] = list(reversed(chain))
    rng = random.Random(seed)
    now = datetime.now(UTC)
    docs = []
    for n in range(count):
        listing, slug = make_listing(n, rng, now)
        doc = listing_to_document(
            listing,
            category_chain=chains[slug],
            seller_score=round(rng.uniform(0.3, 1.0), 2) if rng.random() < 0.8 else None,
            thumbnail=f"listings/{listing.id}/photo-0_thumbnail.jpg",
            photo_count=rng.randint(1, 6),
        )
        docs.append(doc.to_dict(include_meta=True))
    return docs


# --- the query mix -----------------------------------------------------------------------

TEXT_EN = [
    "iphone 13",
    "iphone",
    "macbook pro",
    "macbook air m1",
    "bike",
    "mountain bike",
    "folding bike",
    "sofa",
    "couch",
    "dining table",
    "office chair",
    "camera",
    "canon",
    "sony a7",
    "guitar",
    "digital piano",
    "stroller",
    "lego",
    "switch",
    "dyson vacuum",
    "washing machine",
    "fridge",
    "down jacket",
    "dress",
    "jeans",
    "sneakers",
    "harry potter",
    "textbook",
    "tent",
    "treadmill",
    "headphones",
    "kindle",
    "iphone 13 case",
    "car seat",
]
TEXT_ZH = [
    "手机",
    "苹果手机",
    "笔记本电脑",
    "自行车",
    "山地车",
    "单车",
    "沙发",
    "餐桌",
    "相机",
    "单反",
    "吉他",
    "电钢琴",
    "婴儿车",
    "乐高",
    "吸尘器",
    "冰箱",
    "洗衣机",
    "连衣裙",
    "牛仔裤",
    "运动鞋",
    "三体",
    "帐篷",
    "跑步机",
    "耳机",
    "二手自行车",
    "华为手机",
    "儿童自行车",
    "羽绒服",
]
TYPOS = ["iphnoe", "macbok", "bicyle", "guiter", "samsnug", "strolller", "vacum cleaner", "sofaa"]
CATEGORY_FOR = {
    "iphone": "phones",
    "手机": "phones",
    "bike": "bikes",
    "自行车": "bikes",
    "sofa": "furniture",
    "沙发": "furniture",
    "camera": "cameras",
    "dress": "clothing",
    "jacket": "clothing",
    "guitar": "musical-instruments",
}


def query_mix(count: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, params) for `count` searches: a fixed, seeded mix."""
    rng = random.Random(seed)
    out: list[tuple[str, dict[str, Any]]] = []
    kinds = [
        ("text-en", 22),
        ("text-zh", 20),
        ("typo", 6),
        ("text+category", 10),
        ("text+price", 10),
        ("text+condition", 6),
        ("geo+text", 10),
        ("geo-browse", 4),
        ("sorted", 6),
        ("browse-category", 4),
        ("page-2", 2),
    ]
    names = [k for k, _ in kinds]
    weights = [w for _, w in kinds]
    for _ in range(count):
        kind = rng.choices(names, weights=weights)[0]
        q = rng.choice(TEXT_EN if rng.random() < 0.5 else TEXT_ZH)
        params: dict[str, Any] = {}
        if kind == "text-en":
            params = {"q": rng.choice(TEXT_EN)}
        elif kind == "text-zh":
            params = {"q": rng.choice(TEXT_ZH)}
        elif kind == "typo":
            params = {"q": rng.choice(TYPOS)}
        elif kind == "text+category":
            key = rng.choice(list(CATEGORY_FOR))
            params = {"q": key, "category": CATEGORY_FOR[key]}
        elif kind == "text+price":
            low = rng.choice([0, 10_000, 50_000, 100_000])
            params = {"q": q, "min_price": low, "max_price": low + rng.choice([50_000, 300_000])}
        elif kind == "text+condition":
            params = {"q": q, "condition": rng.choice(["new,like_new", "good", "like_new"])}
        elif kind in ("geo+text", "geo-browse"):
            _city, lat, lon = rng.choice(CITIES)
            params = {"lat": lat, "lon": lon, "radius_km": rng.choice([5, 10, 25, 50])}
            if kind == "geo+text":
                params["q"] = q
            if rng.random() < 0.5:
                params["sort"] = "distance"
        elif kind == "sorted":
            params = {"q": q, "sort": rng.choice(["newest", "price_asc", "price_desc"])}
        elif kind == "browse-category":
            params = {"category": rng.choice(list(CATALOG))}
        elif kind == "page-2":
            params = {"q": q, "page": 2}
        out.append((kind, params))
    return out


def prefixes(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [*TEXT_EN, *TEXT_ZH, "samsung", "huawei", "nike", "adidas", "ikea", "捷安特", "小米"]
    out = []
    for _ in range(count):
        word = rng.choice(words)
        size = rng.randint(1, min(4, len(word))) if not word.isascii() else rng.randint(2, 5)
        out.append(word[:size])
    return out


# --- plumbing ----------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it is missing (connecting to the server's postgres db)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def memory(pid: int) -> str:
    fields = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0]) / 1024
    except OSError:
        return "unknown"
    return f"RSS {fields.get('VmRSS', 0):,.0f} MB (peak {fields.get('VmHWM', 0):,.0f} MB)"


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (all its threads), from /proc."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as fh:
                total += int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return total / 1e9


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "mean": statistics.fmean(ordered) * 1000,
        "max": ordered[-1] * 1000,
    }


def fmt(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:6.1f} ms" for k, v in stats.items())


def index_documents(docs: list[dict[str, Any]], *, chunk_size: int, threads: int) -> float:
    """Bulk-load into a fresh index behind the alias; returns seconds spent."""
    from elasticsearch.helpers import parallel_bulk, streaming_bulk

    from search import indexing
    from search.client import get_client

    client = get_client()
    name = indexing.new_index_name()
    indexing.create_index(name)
    client.indices.put_settings(index=name, settings={"index": {"refresh_interval": "-1"}})
    actions = ({**doc, "_index": name} for doc in docs)
    done = 0
    step = max(len(docs) // 10, 1)
    t0 = time.perf_counter()
    if threads > 1:
        results = parallel_bulk(
            client, actions, chunk_size=chunk_size, thread_count=threads, raise_on_error=True
        )
    else:
        results = streaming_bulk(
            client, actions, chunk_size=chunk_size, raise_on_error=True, max_retries=3
        )
    for ok, item in results:
        if not ok:
            raise RuntimeError(f"bulk failure: {item}")
        done += 1
        if done % step == 0:
            elapsed = time.perf_counter() - t0
            print(f"  {done:>9,} docs  {done / elapsed:,.0f} docs/s", flush=True)
    client.indices.put_settings(index=name, settings={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=name)
    seconds = time.perf_counter() - t0
    client.indices.update_aliases(
        actions=[{"add": {"index": name, "alias": indexing.alias_name()}}]
    )
    return seconds


def engine_floor(pid: int) -> None:
    """osmem's own CPU for bare requests against the whole index (best of 3):
    what any query that matches that many listings costs before our query,
    ranking or Django add anything."""
    from search.client import get_client
    from search.documents import PRICE_BUCKETS
    from search.indexing import alias_name

    client = get_client()
    facets = {"facets": {"terms": {"field": "facet_key", "size": 10_000}}}
    three = {
        "category": {"terms": {"field": "category", "size": 100}},
        "condition": {"terms": {"field": "condition", "size": 10}},
        "price": {
            "range": {
                "field": "price_minor",
                "ranges": [
                    {k: v for k, v in (("from", low), ("to", high)) if v is not None}
                    for low, high in PRICE_BUCKETS
                ],
            }
        },
    }
    ranking = {
        "bool": {
            "should": [
                {"range": {"published_at": {"gte": "now-14d/h"}}},
                {"range": {"published_at": {"lt": "now-45d/h"}}},
                {"range": {"seller_score": {"lt": 0.5}}},
                {"term": {"accessory": True}},
            ]
        }
    }
    cases = [
        ("match_all, count only", {"size": 0, "track_total_hits": True}),
        ("match_all, 20 newest", {"size": 20, "sort": [{"published_at": "desc"}]}),
        ("match_all + facet_key terms agg", {"size": 0, "aggs": facets}),
        ("match_all + 3 aggs (category, condition, price)", {"size": 0, "aggs": three}),
        ("the 4 ranking clauses alone, count only", {"size": 0, "query": ranking}),
    ]
    print("osmem floor (osmem CPU per request, best of 3, whole index):")
    for label, body in cases:
        best = float("inf")
        for _ in range(3):
            c0 = cpu_seconds(pid)
            client.search(index=alias_name(), body=body)
            best = min(best, cpu_seconds(pid) - c0)
        print(f"  {label:<50} {best * 1000:7.1f} ms")


CPU: dict[str, list[float]] = defaultdict(list)  # per request: osmem and Django CPU seconds


def measure(
    client: Any, paths: list[str], totals: list[int] | None = None, pid: int = 0
) -> list[float]:
    """Seconds per GET; `totals` collects each answer's `total` when given,
    and with `pid` the osmem and Django CPU time of each request go to CPU."""
    samples = []
    for path in paths:
        server0, own0 = cpu_seconds(pid) if pid else 0.0, time.process_time()
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - t0)
        if pid:
            CPU["osmem"].append(cpu_seconds(pid) - server0)
            CPU["django"].append(time.process_time() - own0)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.content[:300]!r}")
        if totals is not None:
            totals.append(response.json()["total"])
    return samples


def cpu_line() -> str:
    """CPU per request: what the work costs, apart from waiting for a core."""
    parts = []
    for name in ("osmem", "django"):
        values = CPU.get(name)
        if values:
            stats = percentiles(values)
            parts.append(f"{name} p50 {stats['p50']:.1f} ms, p95 {stats['p95']:.1f} ms")
    return "  CPU per request: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="listings to index")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2,
                        help=">1 uses parallel_bulk (as search_reindex does: SEARCH_BULK_THREADS)")
    parser.add_argument("--queries", type=int, default=200, help="searches in the mix")
    parser.add_argument("--suggests", type=int, default=200, help="suggest prefixes")
    parser.add_argument("--rounds", type=int, default=1, help="times the mix is replayed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=0, help="osmem port (0: any free one)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from search.embedded import start_embedded_search

    # The embedded server as `make run` starts it (same GOGC default).
    server = start_embedded_search(addr=f"127.0.0.1:{args.port}")
    os.environ["ELASTICSEARCH_URL"] = server.url
    print(
        f"osmem-server {server.version} at {server.url} (pid {server.pid}, "
        f"GOGC={os.environ.get('GOGC')}): {memory(server.pid)}"
    )
    print(
        f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        " (other work on the machine slows every figure below)"
    )
    try:
        run(args, server)
    finally:
        server.close()


def run(args: argparse.Namespace, server: Any) -> None:
    url = os.environ["DATABASE_URL"]
    print(f"database: {url.rsplit('@', 1)[-1]}")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    # 1. documents
    t0 = time.perf_counter()
    docs = build_documents(args.count, args.seed)
    built = time.perf_counter() - t0
    print(
        f"built {len(docs):,} documents with listing_to_document in {built:.1f} s "
        f"({len(docs) / built:,.0f} docs/s, not part of the indexing rate)"
    )
    accessories = sum(1 for d in docs if d["_source"].get("accessory"))
    split = sum(1 for d in docs if d["_source"].get("title_split"))
    print(f"  {accessories:,} accessories, {split:,} with a split title")

    # 2. bulk indexing
    mode = f"parallel_bulk x{args.threads}" if args.threads > 1 else "streaming_bulk"
    print(f"indexing ({mode}, chunk_size {args.chunk_size}, refresh off):")
    cpu0 = cpu_seconds(server.pid)
    seconds = index_documents(docs, chunk_size=args.chunk_size, threads=args.threads)
    osmem_cpu = cpu_seconds(server.pid) - cpu0
    rate = len(docs) / seconds
    verdict = "OK" if rate >= 2000 else "BELOW TARGET"
    print(
        f"  {len(docs):,} docs in {seconds:.1f} s: {rate:,.0f} docs/s (target >= 2,000: {verdict})"
    )
    if osmem_cpu:
        print(
            f"  osmem used {osmem_cpu:.1f} CPU-s: {len(docs) / osmem_cpu:,.0f} docs per CPU-second"
        )
    print(f"  osmem memory after indexing: {memory(server.pid)}")
    del docs
    engine_floor(server.pid)

    # 3. latency through the Django test client
    from django.test import Client

    client = Client()
    mix = query_mix(args.queries, args.seed)
    paths = [f"/api/search?{urlencode(params)}" for _kind, params in mix]
    kinds = [kind for kind, _params in mix]
    totals: list[int] = []
    measure(client, paths[:20])  # warm-up
    samples: list[float] = []
    CPU.clear()
    for _ in range(args.rounds):
        samples += measure(client, paths, totals, pid=server.pid)
    stats = percentiles(samples)
    verdict = "OK" if stats["p95"] < 100 else "ABOVE TARGET"
    print(
        f"GET /api/search, {len(paths)} queries x {args.rounds} "
        f"(median {statistics.median(totals):,.0f} hits, facets on):"
    )
    print(f"  {fmt(stats)}   (target p95 < 100 ms: {verdict})")
    print(cpu_line())
    by_kind: dict[str, list[float]] = defaultdict(list)
    for i, sample in enumerate(samples):
        by_kind[kinds[i % len(kinds)]].append(sample)
    for kind in sorted(by_kind):
        part = percentiles(by_kind[kind])
        print(
            f"    {kind:<16} n={len(by_kind[kind]):<4} p50 {part['p50']:6.1f} ms  "
            f"p95 {part['p95']:6.1f} ms  max {part['max']:6.1f} ms"
        )
    slowest = sorted(range(len(samples)), key=lambda i: samples[i], reverse=True)[:3]
    for i in slowest:
        print(f"    slowest: {samples[i] * 1000:6.1f} ms  {paths[i % len(paths)]}")

    suggest_paths = [
        f"/api/search/suggest?{urlencode({'q': p})}" for p in prefixes(args.suggests, args.seed)
    ]
    measure(client, suggest_paths[:20])
    suggest_samples: list[float] = []
    CPU.clear()
    for _ in range(args.rounds):
        suggest_samples += measure(client, suggest_paths, pid=server.pid)
    stats = percentiles(suggest_samples)
    verdict = "OK" if stats["p95"] < 20 else "ABOVE TARGET"
    print(f"GET /api/search/suggest, {len(suggest_paths)} prefixes x {args.rounds}:")
    print(f"  {fmt(stats)}   (target p95 < 20 ms: {verdict})")
    print(cpu_line())
    print(f"osmem memory at the end: {memory(server.pid)}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
