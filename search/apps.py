from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from marketplace import health
        from search.client import check_search

        health.register("search", check_search)

        from search import events

        events.register()

        from marketplace import embedded
        from search.indexing import reindex

        # `make run`: the embedded search server starts empty; fill it.
        embedded.on_startup("search index", lambda: reindex())

        from marketplace import seeding
        from search.seed import seed_recommendations

        seeding.register("recommendations", seed_recommendations, order=85)
