"""Demo users for `seed_demo`."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.seeding import SeedContext

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - printed for the demo, not a secret

DEMO_USERS = [
    ("alice", "Alice Chen", "Shanghai", ["en", "zh-Hans"]),
    ("bob", "Bob Martin", "Berlin", ["en", "de"]),
    ("wang_fang", "王芳", "北京", ["zh-Hans"]),
    ("li_lei", "李雷", "杭州", ["zh-Hans", "en"]),
    ("carol", "Carol Dupont", "Paris", ["fr", "en"]),
    ("dave", "Dave Kim", "Shenzhen", ["en", "ko"]),
    ("zhang_wei", "张伟", "深圳", ["zh-Hans"]),
    ("erin", "Erin Walsh", "London", ["en"]),
    ("liu_yang", "刘洋", "成都", ["zh-Hans"]),
    ("frank", "Frank Müller", "Munich", ["de", "en"]),
    ("chen_jing", "陈静", "广州", ["zh-Hans", "en"]),
    ("grace", "Grace Lee", "Hong Kong", ["en", "zh-Hant"]),
]


def seed_users(ctx: SeedContext) -> None:
    """Demo members joined months ago (their listings come from established
    accounts, as the fraud model expects, and no review is older than its
    author); the last two joined this month, so "new users" is not empty."""
    users = []
    now = timezone.now()
    for index, (username, name, city, languages) in enumerate(DEMO_USERS):
        user = User.objects.create_user(
            username=username, email=f"{username}@example.com", password=DEMO_PASSWORD
        )
        recent = index >= len(DEMO_USERS) - 2
        user.date_joined = now - timedelta(
            days=ctx.rng.uniform(3, 25) if recent else ctx.rng.uniform(60, 400)
        )
        user.display_name = name
        user.city = city
        user.languages = languages
        user.email_verified_at = now
        user.save()
        users.append(user)
    moderator = User.objects.create_user(
        username="moderator", email="moderator@example.com", password=DEMO_PASSWORD
    )
    moderator.display_name = "Mo Derator"
    moderator.date_joined = now - timedelta(days=420)
    moderator.email_verified_at = now
    moderator.save()
    admin = User.objects.create_superuser(
        username="admin", email="admin@example.com", password=DEMO_PASSWORD
    )
    User.objects.filter(pk=admin.pk).update(date_joined=now - timedelta(days=420))
    ctx.shared["users"] = users
    ctx.shared["moderator"] = moderator
    ctx.shared["admin"] = admin
    ctx.say(
        f"  {len(users)} demo users ({', '.join(u.username for u in users[:4])}, ...), "
        f"'moderator' and 'admin'; every password is: {DEMO_PASSWORD}"
    )
