from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"
    verbose_name = "Listings"

    def ready(self) -> None:
        from listings import events

        events.register()

        from listings.seed import seed_listings
        from marketplace import seeding

        seeding.register("listings", seed_listings, order=20)
