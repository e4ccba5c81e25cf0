from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The kernel: management commands (seed_demo, serve) and health checks."""

    name = "marketplace"
    label = "marketplace"
    verbose_name = "Marketplace kernel"

    def ready(self) -> None:
        from marketplace import health

        health.register_default_checks()
