from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "marketplace.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from marketplace.analytics import events

        events.register()
