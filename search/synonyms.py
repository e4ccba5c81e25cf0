"""Query-time synonyms, English <-> Chinese and within each language.

Each line is one group of interchangeable terms. A query term found in a group
adds the group's other terms as optional, lower-weighted alternatives, so
"手机" also finds "phone" listings and "couch" finds "sofa". Kept in Python
(not an index-time filter) so every engine behaves the same and changing the
list needs no reindex.
"""

from __future__ import annotations

import re

GROUPS: list[tuple[str, ...]] = [
    ("phone", "mobile", "cellphone", "smartphone", "手机", "电话"),
    ("iphone", "苹果手机"),
    ("apple", "苹果"),
    ("samsung", "三星"),
    ("huawei", "华为"),
    ("xiaomi", "小米"),
    ("laptop", "notebook", "笔记本", "笔记本电脑", "电脑"),
    ("macbook", "苹果笔记本"),
    ("tablet", "ipad", "平板", "平板电脑"),
    ("camera", "相机", "照相机", "单反", "dslr"),
    ("lens", "镜头"),
    ("bike", "bicycle", "cycle", "自行车", "单车"),
    ("road bike", "公路车"),
    ("mountain bike", "mtb", "山地车"),
    ("ebike", "e-bike", "electric bike", "电动车", "电动自行车"),
    ("sofa", "couch", "沙发"),
    ("table", "desk", "桌子", "书桌", "餐桌"),
    ("chair", "椅子"),
    ("bed", "床"),
    ("wardrobe", "closet", "衣柜"),
    ("shelf", "bookcase", "书架"),
    ("lamp", "light", "灯", "台灯"),
    ("dress", "连衣裙", "裙子"),
    ("jacket", "coat", "外套", "夹克"),
    ("shirt", "t-shirt", "tee", "衬衫", "t恤"),
    ("jeans", "denim", "牛仔裤"),
    ("shoes", "sneakers", "trainers", "鞋", "鞋子", "运动鞋"),
    ("boots", "靴子"),
    ("bag", "handbag", "purse", "包", "手提包", "包包"),
    ("book", "books", "novel", "书", "图书", "小说"),
    ("textbook", "教材", "课本"),
    ("toy", "toys", "玩具"),
    ("lego", "乐高"),
    ("stroller", "pram", "pushchair", "婴儿车", "推车"),
    ("crib", "cot", "婴儿床"),
    ("fridge", "refrigerator", "冰箱"),
    ("washing machine", "washer", "洗衣机"),
    ("microwave", "微波炉"),
    ("vacuum", "hoover", "吸尘器"),
    ("air conditioner", "ac", "空调"),
    ("tv", "television", "电视", "电视机"),
    ("guitar", "吉他"),
    ("piano", "keyboard", "钢琴", "电子琴"),
    ("violin", "小提琴"),
    ("headphones", "earphones", "earbuds", "耳机"),
    ("speaker", "音箱", "音响"),
    ("watch", "手表"),
    ("smartwatch", "apple watch", "智能手表"),
    ("console", "游戏机"),
    ("switch", "nintendo switch", "任天堂"),
    ("playstation", "ps5", "ps4"),
    ("case", "cover", "手机壳", "保护壳", "保护套"),
    ("charger", "充电器"),
    ("tent", "帐篷"),
    ("skis", "ski", "滑雪板"),
    ("dumbbell", "dumbbells", "哑铃"),
    ("treadmill", "跑步机"),
    ("yoga mat", "瑜伽垫"),
    ("new", "全新"),
    ("used", "second-hand", "二手"),
]

_INDEX: dict[str, tuple[str, ...]] = {}
for _group in GROUPS:
    for _term in _group:
        _INDEX[_term.lower()] = _group

_TOKEN = re.compile(r"[\w\-]+", re.UNICODE)
_MAX_PHRASE_WORDS = 3


def alternatives(query: str) -> list[str]:
    """Terms to add for `query`: the other members of every group one of its
    words, word pairs or (for Chinese) substrings belongs to."""
    lowered = query.lower().strip()
    found: set[str] = set()
    words = _TOKEN.findall(lowered)
    # Latin words and short phrases ("road bike").
    for size in range(1, _MAX_PHRASE_WORDS + 1):
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i : i + size])
            group = _INDEX.get(phrase)
            if group:
                found.update(group)
    # Chinese terms appear inside longer runs without spaces ("二手自行车").
    for term, group in _INDEX.items():
        if not term.isascii() and term in lowered:
            found.update(group)
    present = {w for w in words} | {lowered}
    return sorted(t for t in found if t not in present and t not in lowered)
