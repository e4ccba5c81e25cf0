from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "marketplace.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from marketplace.accounts import events

        events.register()

        from marketplace.accounts import signals

        signals.register()

        from marketplace import seeding
        from marketplace.accounts.seed import seed_users

        seeding.register("users", seed_users, order=10)
