from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "trust"
    verbose_name = "Trust: escrow, ledger, reputation, fraud"

    def ready(self) -> None:
        from marketplace.accounts.selectors import register_reputation_provider
        from search.indexing import register_seller_score_provider
        from trust import reputation

        register_reputation_provider(reputation.reputation_summary)
        register_seller_score_provider(reputation.seller_scores)

        from trust.fraud import checks as fraud_checks

        fraud_checks.register()  # publish check + chat message check (trust/fraud/checks.py)
