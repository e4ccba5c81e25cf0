from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "trust"
    verbose_name = "Trust: escrow, ledger, reputation, fraud"

    def ready(self) -> None:
        from marketplace.accounts.selectors import register_reputation_provider
        from search.indexing import register_seller_score_provider
        from trust import reputation

        register_reputation_provider(reputation.reputation_summary)

        from marketplace.accounts import privacy
        from trust import selectors as trust_selectors

        privacy.register_data_exporter("orders", trust_selectors.data_export_for)
        privacy.register_deletion_check("open_orders", trust_selectors.deletion_blockers)
        register_seller_score_provider(reputation.seller_scores)

        from trust.fraud import checks as fraud_checks

        fraud_checks.register()  # publish check + chat message check (trust/fraud/checks.py)

        from trust import events as trust_events

        trust_events.register()  # order events -> notifications to buyer and seller

        from marketplace import seeding
        from trust.seed import seed_orders

        seeding.register("orders", seed_orders, order=40)
