"""seed_demo: rebuild the recommender's item similarities from the demo
events (after the analytics seeder), so the "for you" feed is personal from
the first start instead of waiting for the periodic refresh."""

from __future__ import annotations

from marketplace.seeding import SeedContext
from search import recommend


def seed_recommendations(ctx: SeedContext) -> None:
    rows = recommend.refresh()
    ctx.say(f"  recommender refreshed: {rows} item similarities")
