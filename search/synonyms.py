"""Query-time synonyms, English <-> Chinese and within each language.

Kept in Python (not an index-time filter) so every engine behaves the same
(osmem ignores synonym token filters) and changing the lists needs no reindex.

`expand(query)` cuts a query into units (concepts): Latin words and known
phrases ("washing machine"), and Chinese runs segmented by longest match
against the term lists ("二手自行车" -> 二手 + 自行车). Each unit carries the
terms that may stand in for it:

- `GROUPS`: interchangeable terms (synonyms, translations, brand names in
  both scripts). "沙发" stands for "sofa" and "couch" and back.
- `NARROWER`: one-way, a general term to kinds of it ("camera" also finds
  "GoPro"; "GoPro" does not find every camera).
- A Latin word that is in no list but one or two typing mistakes away from a
  listed term is taken as that term ("bicyle" -> bicycle -> bike, 自行车).

The search matches every unit by its own words or by one of its stand-ins, so
"儿童自行车" finds "Kids bike 16 inch", and "苹果手机" finds "iPhone" titles
without also finding every phone that merely says "phone".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

GROUPS: list[tuple[str, ...]] = [
    # phones and electronics
    ("phone", "mobile phone", "cellphone", "cell phone", "smartphone", "手机"),
    ("iphone", "苹果手机"),
    ("apple", "苹果"),
    ("samsung", "三星"),
    ("huawei", "华为"),
    ("xiaomi", "小米"),
    ("laptop", "notebook computer", "笔记本电脑", "手提电脑"),
    ("gaming laptop", "游戏本"),
    ("macbook", "苹果笔记本"),
    ("lenovo", "联想"),
    ("thinkpad", "联想thinkpad"),
    ("tablet", "平板", "平板电脑"),
    ("ipad", "苹果平板"),
    ("camera", "相机", "照相机"),
    ("dslr", "单反", "单反相机"),
    ("mirrorless", "微单", "微单相机"),
    ("instant camera", "拍立得"),
    ("lens", "镜头"),
    ("drone", "无人机"),
    ("canon", "佳能"),
    ("nikon", "尼康"),
    ("sony", "索尼"),
    ("fujifilm", "fuji", "富士"),
    ("dji", "大疆"),
    ("headphones", "headphone", "earphones", "earbuds", "耳机"),
    ("noise cancelling", "降噪"),
    ("speaker", "音箱", "音响"),
    ("power bank", "powerbank", "充电宝", "移动电源"),
    ("charger", "充电器", "充电头"),
    ("case", "phone case", "手机壳", "保护壳", "保护套"),
    ("screen protector", "钢化膜", "贴膜"),
    ("watch", "手表"),
    ("smartwatch", "智能手表"),
    ("e-reader", "ereader", "电子书阅读器", "阅读器"),
    ("tv", "television", "电视", "电视机"),
    ("console", "game console", "游戏机"),
    ("nintendo", "任天堂"),
    ("playstation", "ps5", "ps4"),
    # bikes
    ("bike", "bicycle", "cycle", "自行车", "单车"),
    ("road bike", "racing bike", "公路车", "公路自行车"),
    ("mountain bike", "mtb", "山地车", "山地自行车"),
    ("folding bike", "折叠车", "折叠自行车"),
    ("ebike", "e-bike", "electric bike", "电动车", "电动自行车", "电瓶车"),
    ("giant", "捷安特"),
    ("merida", "美利达"),
    ("decathlon", "迪卡侬"),
    ("dahon", "大行"),
    ("yadea", "雅迪"),
    ("helmet", "头盔"),
    # furniture and home
    ("sofa", "couch", "settee", "沙发"),
    ("sofa bed", "沙发床"),
    ("table", "桌子", "桌"),
    ("dining table", "餐桌"),
    ("coffee table", "茶几"),
    ("desk", "书桌", "办公桌", "电脑桌", "写字台"),
    ("chair", "椅子", "椅"),
    ("office chair", "ergonomic chair", "desk chair", "办公椅", "人体工学椅", "电脑椅"),
    ("bed", "床"),
    ("mattress", "床垫"),
    ("wardrobe", "closet", "衣柜"),
    ("bookcase", "bookshelf", "书架", "书柜"),
    ("shelf", "shelves", "置物架"),
    ("lamp", "灯", "台灯"),
    ("cushion", "靠垫", "抱枕"),
    ("ikea", "宜家"),
    # clothing and shoes
    ("dress", "连衣裙", "裙子"),
    ("wedding dress", "婚纱"),
    ("skirt", "半身裙"),
    ("jacket", "夹克", "冲锋衣"),
    ("coat", "大衣"),
    ("down jacket", "羽绒服"),
    ("shirt", "衬衫"),
    ("t-shirt", "tshirt", "tee", "t恤"),
    ("hoodie", "卫衣"),
    ("jeans", "denim", "牛仔裤"),
    ("suit", "西装"),
    ("shoes", "鞋", "鞋子"),
    ("sneakers", "trainers", "运动鞋", "球鞋"),
    ("running shoes", "跑鞋", "跑步鞋"),
    ("boots", "boot", "靴子", "靴"),
    ("martens", "dr martens", "马丁靴"),
    ("high heels", "heels", "高跟鞋"),
    ("hiking boots", "hiking shoes", "登山鞋", "徒步鞋"),
    ("nike", "耐克"),
    ("adidas", "阿迪达斯", "阿迪"),
    ("uniqlo", "优衣库"),
    ("the north face", "north face", "北面"),
    ("bag", "handbag", "purse", "包", "手提包", "包包"),
    ("backpack", "rucksack", "背包", "双肩包"),
    ("suitcase", "luggage", "行李箱", "拉杆箱"),
    # books
    ("book", "books", "书", "图书", "书籍"),
    ("novel", "小说"),
    ("textbook", "教材", "课本"),
    ("harry potter", "哈利波特", "哈利·波特"),
    ("three-body", "three body", "三体"),
    ("dream of the red chamber", "红楼梦"),
    ("kindle", "亚马逊电子书"),
    # toys and games
    ("toy", "toys", "玩具"),
    ("lego", "乐高"),
    ("board game", "桌游"),
    ("plush", "stuffed animal", "teddy", "毛绒玩具", "公仔"),
    # appliances
    ("fridge", "refrigerator", "freezer", "冰箱"),
    ("washing machine", "washer", "洗衣机"),
    ("microwave", "微波炉"),
    ("vacuum", "vacuum cleaner", "hoover", "吸尘器"),
    ("robot vacuum", "扫地机器人", "扫地机"),
    ("air conditioner", "air conditioning", "aircon", "空调"),
    ("air purifier", "空气净化器"),
    ("coffee machine", "coffee maker", "espresso machine", "咖啡机"),
    ("rice cooker", "电饭煲", "电饭锅"),
    ("dyson", "戴森"),
    ("haier", "海尔"),
    ("midea", "美的"),
    ("gree", "格力"),
    ("little swan", "小天鹅"),
    ("philips", "飞利浦"),
    # sports
    ("tent", "帐篷"),
    ("camping", "露营"),
    ("skis", "ski", "滑雪板"),
    ("dumbbell", "dumbbells", "哑铃"),
    ("treadmill", "跑步机"),
    ("exercise bike", "spin bike", "动感单车", "健身车"),
    ("yoga mat", "瑜伽垫"),
    ("tennis racket", "网球拍"),
    ("badminton racket", "羽毛球拍"),
    ("basketball", "篮球"),
    ("yonex", "尤尼克斯"),
    # instruments
    ("guitar", "吉他"),
    ("acoustic guitar", "民谣吉他", "木吉他"),
    ("electric guitar", "电吉他"),
    ("piano", "钢琴"),
    ("digital piano", "electric piano", "电钢琴", "电子钢琴"),
    ("keyboard", "电子琴"),
    ("violin", "小提琴"),
    ("ukulele", "尤克里里"),
    ("drums", "drum kit", "架子鼓", "电子鼓"),
    ("yamaha", "雅马哈"),
    ("casio", "卡西欧"),
    # baby
    ("baby", "婴儿", "宝宝"),
    ("kids", "kid", "children", "child", "儿童", "孩子"),
    ("stroller", "pram", "pushchair", "buggy", "婴儿车", "婴儿推车", "推车"),
    ("crib", "cot", "婴儿床"),
    ("car seat", "safety seat", "安全座椅"),
    ("baby carrier", "婴儿背带", "背带", "腰凳"),
    ("high chair", "餐椅", "宝宝餐椅"),
    ("breast pump", "吸奶器"),
    ("goodbaby", "好孩子"),
    ("medela", "美德乐"),
    # condition words
    ("new", "全新"),
]

# One-way: a general term also finds kinds of it (never the reverse).
NARROWER: dict[str, tuple[str, ...]] = {
    "phone": ("iphone", "galaxy", "pixel", "redmi"),
    "camera": ("dslr", "mirrorless", "gopro", "instax", "单反", "微单", "拍立得"),
    "headphones": ("airpods",),
    "tablet": ("ipad", "matepad"),
    "laptop": ("macbook", "thinkpad", "matebook", "游戏本"),
    "console": ("nintendo switch", "playstation", "xbox"),
    "vacuum": ("扫地机器人",),
    "coat": ("parka",),
    "jacket": ("parka", "冲锋衣"),
    "外套": ("coat", "jacket", "parka", "大衣", "夹克", "冲锋衣", "羽绒服"),
    "sneakers": ("air jordan", "air force", "ultraboost", "chuck taylor", "空军一号"),
    "piano": ("电钢琴", "digital piano"),
    "chair": ("office chair",),
    "bike": ("ebike", "e-bike"),
    "e-reader": ("kindle",),
}

# Words that say nothing about what is wanted on a second-hand marketplace:
# a query unit made of one of them need not match.
OPTIONAL: frozenset[str] = frozenset(
    {"二手", "闲置", "转让", "出售", "used", "second-hand", "secondhand", "for", "sale"}
)

_MAX_PHRASE_WORDS = 3
_PIECE = re.compile(
    r"(?P<latin>[a-z0-9]+(?:[\-'.][a-z0-9]+)*)|(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
)


@dataclass(frozen=True)
class Unit:
    """One concept of a query: its own words and what may stand in for them."""

    text: str
    alternatives: tuple[str, ...] = ()
    optional: bool = False
    latin: bool = True
    known: bool = False  # a listed term, so spelt as meant


def _build() -> tuple[dict[str, set[str]], int]:
    index: dict[str, set[str]] = {}
    for group in GROUPS:
        for term in group:
            index.setdefault(term.lower(), set()).update(t.lower() for t in group)
    groups_only = {term: set(members) for term, members in index.items()}
    for general, kinds in NARROWER.items():
        # Every way of saying the general term finds the kinds ("手机" as "phone").
        for member in groups_only.get(general.lower(), {general.lower()}):
            index.setdefault(member, {member}).update(k.lower() for k in kinds)
    longest_cjk = max((len(t) for t in index if not t.isascii()), default=1)
    return index, longest_cjk


_INDEX, _LONGEST_CJK = _build()
_LATIN_WORDS = sorted(t for t in _INDEX if t.isascii() and " " not in t)


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours counts once),
    giving up early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=4096)
def correct(word: str) -> str | None:
    """The listed term a misspelt Latin word most likely means, or None.

    Words of 5+ letters may be one edit away, 8+ letters two; the first letter
    must agree (people rarely get it wrong). Ties go to the alphabetically
    first term, so the result is stable.
    """
    if word in _INDEX or len(word) < 5 or not word.isalpha():
        return None
    limit = 2 if len(word) >= 8 else 1
    best: tuple[int, str] | None = None
    for term in _LATIN_WORDS:
        if term[0] != word[0] or abs(len(term) - len(word)) > limit:
            continue
        d = _distance(word, term, limit)
        if d <= limit and (best is None or d < best[0]):
            best = (d, term)
    return best[1] if best else None


def _stand_ins(term: str) -> tuple[str, ...]:
    return tuple(sorted(t for t in _INDEX.get(term, ()) if t != term))


def _singular(word: str) -> str:
    """The listed singular of a plural: "phones" -> "phone", "dresses" -> "dress"."""
    if word in _INDEX or len(word) < 4 or not word.endswith("s"):
        return word
    for cut in (1, 2):
        if word[:-cut] in _INDEX:
            return word[:-cut]
    return word


def _latin_units(words: list[str]) -> list[Unit]:
    units: list[Unit] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + size])
            if size > 1 and phrase in _INDEX:
                units.append(Unit(phrase, _stand_ins(phrase), phrase in OPTIONAL, known=True))
                i += size
                break
        else:
            word = _singular(words[i])
            fixed = correct(word)
            if fixed is not None:
                units.append(Unit(word, (fixed, *_stand_ins(fixed))))
            else:
                known = word in _INDEX or word in OPTIONAL
                units.append(Unit(word, _stand_ins(word), word in OPTIONAL, known=known))
            i += 1
    return units


def _cjk_units(run: str) -> list[Unit]:
    """Longest match from the left; characters outside any term stay together."""
    units: list[Unit] = []
    raw = ""
    i = 0
    while i < len(run):
        for size in range(min(_LONGEST_CJK, len(run) - i), 0, -1):
            term = run[i : i + size]
            if term in _INDEX or term in OPTIONAL:
                if raw:
                    units.append(Unit(raw, latin=False))
                    raw = ""
                units.append(
                    Unit(term, _stand_ins(term), term in OPTIONAL, latin=False, known=True)
                )
                i += size
                break
        else:
            raw += run[i]
            i += 1
    if raw:
        units.append(Unit(raw, latin=False))
    return units


def expand(query: str) -> list[Unit]:
    """The units of `query`, in order (see the module docstring)."""
    units: list[Unit] = []
    latin: list[str] = []
    for match in _PIECE.finditer(query.lower()):
        if match.group("latin"):
            latin.append(match.group("latin"))
            continue
        if latin:
            units.extend(_latin_units(latin))
            latin = []
        units.extend(_cjk_units(match.group("cjk")))
    if latin:
        units.extend(_latin_units(latin))
    return units


def alternatives(query: str) -> list[str]:
    """Every stand-in term for the query's units (flat, for display and debugging)."""
    found = {alt for unit in expand(query) for alt in unit.alternatives}
    return sorted(found)
