from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation: reports, review queue, decisions, audit log, appeals"

    def ready(self) -> None:
        from moderation import events

        events.register()  # outbox subscriptions: holds, flags, disputes, rules, photo hashes

        from moderation import selectors
        from trust.fraud.data import register_label_source

        # Moderators' verdicts become fraud training labels; trust never imports us.
        register_label_source(selectors.fraud_training_rows, name="moderation.decisions")

        from marketplace.accounts import privacy

        privacy.register_data_exporter("reports", selectors.data_export_for)

        from marketplace import seeding
        from moderation.services import seed_moderation

        seeding.register("moderation", seed_moderation, order=90)
