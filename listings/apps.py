from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "listings"
    verbose_name = "Listings"

    def ready(self) -> None:
        from listings import events, follows  # follows also defines the Follow model

        events.register()
        follows.register()

        from listings.seed import seed_listings
        from marketplace import seeding

        seeding.register("listings", seed_listings, order=20)

        # Data rights (accounts' registries): export the seller's listings,
        # withdraw them when the account is deleted.
        from listings import selectors, services
        from marketplace.accounts import privacy

        privacy.register_data_exporter("listings", selectors.data_export_for)
        privacy.register_anonymiser("listings", services.listings_withdraw_for_deleted_user)
