"""`python manage.py search_relevance [--min 0.85]`: nDCG@10 of the judged test set.

Loads search/relevance/corpus.json into the database inside a transaction
that is always rolled back, indexes it under a throwaway index prefix
(`relevance-eval` by default, never the configured one), runs every query of
search/relevance/judgments.json and prints the mean nDCG@10, the mean per
query group and the worst queries with their top results. Exits 1 when the
mean is below --min. With ELASTICSEARCH_URL unset it starts its own
osmem-server, like `manage.py serve`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from elastic_transport import TransportError

from search import indexing
from search.client import get_client, reset_clients
from search.relevance import evaluate


class Command(BaseCommand):
    help = (
        "Measure search relevance (nDCG@10) on the judged test set in search/relevance, "
        "in a throwaway index and a rolled-back transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min", type=float, default=None, help="exit 1 when the mean nDCG@10 is below this"
        )
        parser.add_argument(
            "--index-prefix",
            default="relevance-eval",
            help="index prefix for the throwaway index (default: relevance-eval)",
        )
        parser.add_argument("--worst", type=int, default=10, help="how many worst queries to show")
        parser.add_argument("--top", type=int, default=5, help="results shown per worst query")
        parser.add_argument(
            "--keep-index", action="store_true", help="leave the throwaway index for inspection"
        )
        parser.add_argument("--json", action="store_true", help="print the scores as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        prefix = options["index_prefix"]
        if not prefix or prefix == settings.ELASTICSEARCH_INDEX_PREFIX:
            raise CommandError(
                f"--index-prefix must differ from ELASTICSEARCH_INDEX_PREFIX ({prefix!r}): "
                "the evaluation replaces the index behind its prefix."
            )
        with self._search_server(), _index_prefix(prefix):
            try:
                report = evaluate.evaluate_in_rollback(progress=self._progress)
            except TransportError as exc:
                raise CommandError(f"The search server is unreachable: {exc}") from exc
            finally:
                if not options["keep_index"]:
                    _drop_indices()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=1))
        else:
            self.stdout.write(
                evaluate.format_report(report, worst=options["worst"], top=options["top"])
            )
        if report.problems:
            raise CommandError(f"{len(report.problems)} problems in the judgments (listed above)")
        minimum = options["min"]
        if minimum is not None and report.mean < minimum:
            raise CommandError(f"mean nDCG@10 {report.mean:.4f} is below --min {minimum}")
        self.stdout.write(self.style.SUCCESS(f"mean nDCG@{report.k}: {report.mean:.4f}"))

    def _progress(self, message: str) -> None:
        self.stderr.write(f"... {message}")

    @contextmanager
    def _search_server(self) -> Iterator[None]:
        if settings.ELASTICSEARCH_URL:
            yield
            return
        from search.embedded import start_embedded_search

        self.stderr.write("... starting an osmem-server (ELASTICSEARCH_URL is unset)")
        try:
            server = start_embedded_search()
        except Exception as exc:  # noqa: BLE001
            raise CommandError(f"Could not start osmem-server: {exc}") from exc
        settings.ELASTICSEARCH_URL = server.url
        reset_clients()
        try:
            yield
        finally:
            reset_clients()
            settings.ELASTICSEARCH_URL = ""
            server.close()


@contextmanager
def _index_prefix(prefix: str) -> Iterator[None]:
    saved = settings.ELASTICSEARCH_INDEX_PREFIX
    settings.ELASTICSEARCH_INDEX_PREFIX = prefix
    try:
        yield
    finally:
        settings.ELASTICSEARCH_INDEX_PREFIX = saved


def _drop_indices() -> None:
    """Delete the throwaway indices (only those behind the throwaway alias)."""
    client = get_client()
    for name in indexing.indices_behind_alias():
        client.indices.delete(index=name)
