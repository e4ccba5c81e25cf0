from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "marketplace.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from marketplace.analytics import events

        events.register()

        from marketplace import seeding
        from marketplace.analytics.seed import seed_events

        seeding.register("analytics", seed_events, order=80)
