"""The category tree every fresh database starts with.

The data is frozen here (not imported from app code) so this migration
produces the same tree forever. Subcategories inherit their parent's
attributes; they only list what they add.
"""

from django.db import migrations


def _attr(name, type_, label, label_zh, *, required=False, choices=None, **extra):
    return {
        "name": name, "type": type_, "choices": choices, "required": required,
        "label": label, "label_zh": label_zh, **extra,
    }


STORAGE = ["16GB", "32GB", "64GB", "128GB", "256GB", "512GB", "1TB", "2TB"]
SIZES = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "one size"]

# (slug, name, name_zh, parent slug, attributes)
CATEGORIES = [
    ("phones", "Phones", "手机", None, [
        _attr("brand", "choice", "Brand", "品牌", required=True, choices=[
            "Apple", "Samsung", "Huawei", "Xiaomi", "OPPO", "vivo", "Honor", "Google",
            "OnePlus", "Sony", "Other"]),
        _attr("model", "string", "Model", "型号", required=True),
        _attr("storage", "choice", "Storage", "存储容量", required=True, choices=STORAGE),
        _attr("color", "string", "Colour", "颜色"),
        _attr("unlocked", "boolean", "Unlocked", "无锁"),
    ]),
    ("laptops", "Laptops", "笔记本电脑", None, [
        _attr("brand", "choice", "Brand", "品牌", required=True, choices=[
            "Apple", "Lenovo", "Dell", "HP", "ASUS", "Acer", "Huawei", "Xiaomi",
            "Microsoft", "MSI", "Other"]),
        _attr("model", "string", "Model", "型号", required=True),
        _attr("screen_size", "choice", "Screen size", "屏幕尺寸", choices=[
            "11\"", "12\"", "13\"", "14\"", "15\"", "16\"", "17\""]),
        _attr("ram", "choice", "Memory", "内存", choices=[
            "4GB", "8GB", "16GB", "24GB", "32GB", "64GB"]),
        _attr("storage", "choice", "Storage", "存储容量", choices=STORAGE),
    ]),
    ("tablets", "Tablets", "平板电脑", None, [
        _attr("brand", "choice", "Brand", "品牌", required=True, choices=[
            "Apple", "Samsung", "Huawei", "Xiaomi", "Lenovo", "Microsoft", "Amazon", "Other"]),
        _attr("model", "string", "Model", "型号"),
        _attr("storage", "choice", "Storage", "存储容量", choices=STORAGE),
        _attr("cellular", "boolean", "Cellular", "支持蜂窝网络"),
    ]),
    ("cameras", "Cameras", "相机", None, [
        _attr("brand", "choice", "Brand", "品牌", required=True, choices=[
            "Canon", "Nikon", "Sony", "Fujifilm", "Panasonic", "Olympus", "Leica",
            "GoPro", "DJI", "Ricoh", "Other"]),
        _attr("type", "choice", "Type", "类型", required=True, choices=[
            "dslr", "mirrorless", "compact", "action", "film", "lens", "drone"]),
        _attr("model", "string", "Model", "型号"),
        _attr("shutter_count", "integer", "Shutter count", "快门次数", min=0, max=2000000),
    ]),
    ("bikes", "Bikes", "自行车", None, [
        _attr("type", "choice", "Type", "类型", required=True, choices=[
            "road", "mountain", "city", "folding", "electric", "gravel", "kids", "bmx"]),
        _attr("frame_size", "choice", "Frame size", "车架尺寸", required=True, choices=[
            "XS", "S", "M", "L", "XL"]),
        _attr("wheel_size", "integer", "Wheel size (inch)", "轮径（英寸）", min=12, max=29),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("furniture", "Furniture", "家具", None, [
        _attr("type", "choice", "Type", "类型", required=True, choices=[
            "sofa", "table", "chair", "bed", "wardrobe", "desk", "shelf", "cabinet", "other"]),
        _attr("material", "choice", "Material", "材质", choices=[
            "wood", "metal", "plastic", "fabric", "leather", "glass", "rattan", "other"]),
        _attr("width_cm", "integer", "Width (cm)", "宽（厘米）", min=1, max=1000),
        _attr("depth_cm", "integer", "Depth (cm)", "深（厘米）", min=1, max=1000),
        _attr("height_cm", "integer", "Height (cm)", "高（厘米）", min=1, max=1000),
    ]),
    ("clothing", "Clothing", "服装", None, [
        _attr("size", "choice", "Size", "尺码", required=True, choices=SIZES),
        _attr("brand", "string", "Brand", "品牌"),
        _attr("color", "string", "Colour", "颜色"),
    ]),
    ("clothing-women", "Women's clothing", "女装", "clothing", [
        _attr("type", "choice", "Type", "类型", choices=[
            "dress", "top", "skirt", "trousers", "jeans", "jacket", "coat", "knitwear",
            "other"]),
    ]),
    ("clothing-men", "Men's clothing", "男装", "clothing", [
        _attr("type", "choice", "Type", "类型", choices=[
            "shirt", "t-shirt", "trousers", "jeans", "jacket", "coat", "suit", "knitwear",
            "other"]),
    ]),
    ("shoes", "Shoes", "鞋", None, [
        _attr("size_eu", "integer", "Size (EU)", "尺码（欧码）", required=True, min=16, max=52),
        _attr("gender", "choice", "For", "适用", choices=["women", "men", "unisex", "kids"]),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("books", "Books", "图书", None, [
        _attr("language", "choice", "Language", "语言", required=True, choices=[
            "zh", "en", "de", "fr", "ja", "other"]),
        _attr("author", "string", "Author", "作者"),
        _attr("format", "choice", "Format", "装帧", choices=["paperback", "hardcover", "other"]),
        _attr("isbn", "string", "ISBN", "ISBN"),
    ]),
    ("toys", "Toys & games", "玩具", None, [
        _attr("age_range", "choice", "Age", "适用年龄", choices=[
            "0-2", "3-5", "6-8", "9-12", "13+"]),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("home-appliances", "Home appliances", "家用电器", None, [
        _attr("type", "choice", "Type", "类型", required=True, choices=[
            "washing_machine", "fridge", "microwave", "vacuum", "air_conditioner",
            "coffee_machine", "rice_cooker", "air_purifier", "other"]),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("sports", "Sports & outdoors", "运动户外", None, [
        _attr("sport", "choice", "Sport", "运动项目", required=True, choices=[
            "fitness", "running", "football", "basketball", "tennis", "badminton",
            "swimming", "skiing", "camping", "cycling", "other"]),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("musical-instruments", "Musical instruments", "乐器", None, [
        _attr("type", "choice", "Type", "类型", required=True, choices=[
            "guitar", "piano_keyboard", "violin", "drums", "wind", "ukulele", "other"]),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("baby", "Baby & kids", "母婴", None, [
        _attr("type", "choice", "Type", "类型", required=True, choices=[
            "stroller", "car_seat", "crib", "clothing", "feeding", "carrier", "other"]),
        _attr("brand", "string", "Brand", "品牌"),
    ]),
    ("other", "Other", "其他", None, []),
]


def create_tree(apps, schema_editor):
    Category = apps.get_model("listings", "Category")
    by_slug = {}
    for position, (slug, name, name_zh, parent, attributes) in enumerate(CATEGORIES):
        category, _ = Category.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name, "name_zh": name_zh, "attributes": attributes,
                "position": position, "parent": by_slug.get(parent),
            },
        )
        by_slug[slug] = category


def remove_tree(apps, schema_editor):
    Category = apps.get_model("listings", "Category")
    slugs = [row[0] for row in CATEGORIES]
    # Children first: the parent link is PROTECT.
    Category.objects.filter(slug__in=slugs, parent__isnull=False).delete()
    Category.objects.filter(slug__in=slugs).delete()


class Migration(migrations.Migration):
    dependencies = [("listings", "0001_initial")]

    operations = [migrations.RunPython(create_tree, remove_tree)]
