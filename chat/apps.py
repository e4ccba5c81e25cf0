from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat and offers"

    def ready(self) -> None:
        from chat import events, safety

        safety.register_default_checks()
        events.register()
