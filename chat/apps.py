from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat and offers"

    def ready(self) -> None:
        from chat import events, safety

        safety.register_default_checks()
        events.register()

        from chat.selectors import blocked_user_ids
        from marketplace.analytics.hooks import register_blocked_users

        register_blocked_users("chat.blocks", blocked_user_ids)  # the feed hides blocked sellers

        from chat import selectors
        from marketplace.accounts import privacy

        privacy.register_data_exporter("messages", selectors.data_export_for)

        from chat.seed import seed_chat
        from marketplace import seeding

        seeding.register("conversations", seed_chat, order=30)
