from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from marketplace import health
        from search.client import check_search

        health.register("search", check_search)
