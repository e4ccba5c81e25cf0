"""`python manage.py fraud_score --input FILE.jsonl` (API.md): score listings from a file.

Reads one JSON object a line (`-` reads standard input)::

    {"title", "description", "price": {"amount_minor", "currency"}, "category",
     "seller": {"account_age_days", "listings_count", "completed_orders"}}

and writes `{"score": 0..1, "reasons": [...]}` a line to standard output,
in the same order. Blank lines are skipped. A line that is not valid JSON or
not a valid record is reported on standard error with its line number; the
other lines are still scored, the bad line's place in the output holds
`{"score": null, "reasons": [], "error": "..."}` so output line N still
matches input record N, and the command exits with status 2. Lines are
scored in batches of 1,000; with `--jobs N` (default: one per CPU, at most 4)
the batches are scored by forked worker processes that share the loaded model,
and written in input order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

BATCH = 1000
MAX_JOBS = 4

# Set in the parent before forking; the workers inherit it (copy-on-write),
# so each worker does not load the model file again.
_MODEL: Any = None


def _score_batch(records: list[dict[str, Any]]) -> list[tuple[float, list[str]]]:
    return [(s.score, s.reasons) for s in _MODEL.score_records(records)]


def default_jobs() -> int:
    return max(1, min(MAX_JOBS, os.cpu_count() or 1))


class Command(BaseCommand):
    help = "Score listings from a JSONL file (or - for stdin); one JSON result a line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, metavar="FILE",
                            help="JSONL file of listing records, or - for standard input")
        parser.add_argument("--jobs", type=int, default=None, metavar="N",
                            help="worker processes (default: one per CPU, at most 4)")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["input"]
        jobs = options.get("jobs") or default_jobs()
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.", returncode=2)
        self.jobs = jobs
        if name == "-":
            errors = self._run(sys.stdin)
        else:
            try:
                handle = open(name, encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise CommandError(f"Cannot read {name}: {exc.strerror or exc}",
                                   returncode=2) from None
            with handle:
                try:
                    errors = self._run(handle)
                except UnicodeDecodeError as exc:
                    raise CommandError(f"{name} is not UTF-8 text: {exc}", returncode=2) from None
        if errors:
            raise CommandError(f"{errors} bad line(s) in {name}; the others were scored.",
                               returncode=2)

    def _run(self, handle: IO[str]) -> int:
        from trust.fraud.model import get_model

        global _MODEL
        _MODEL = get_model()
        self.errors = 0
        if self.jobs == 1:
            for batch in self._batches(handle):
                self._write(batch, _score_batch(self._records(batch)))
            return self.errors
        # Workers never touch the database; they end with os._exit, so the
        # inherited connection is never used or closed by them.
        context = multiprocessing.get_context("fork")
        with context.Pool(self.jobs) as pool:
            batches: list[list[tuple[int, dict[str, Any] | str]]] = []

            def records_of_batches() -> Iterator[list[dict[str, Any]]]:
                for batch in self._batches(handle):
                    batches.append(batch)
                    yield self._records(batch)

            # imap keeps input order; the parent writes batch i when it is scored.
            for index, scores in enumerate(pool.imap(_score_batch, records_of_batches())):
                self._write(batches[index], scores)
                batches[index] = []
        return self.errors

    @staticmethod
    def _records(batch: list[tuple[int, dict[str, Any] | str]]) -> list[dict[str, Any]]:
        return [item for _, item in batch if isinstance(item, dict)]

    def _batches(self, handle: IO[str]) -> Iterator[list[tuple[int, dict[str, Any] | str]]]:
        """Batches of (line number, record or error message), errors reported as read."""
        from trust.fraud import data

        pending: list[tuple[int, dict[str, Any] | str]] = []
        for number, value in data.read_jsonl(handle):
            try:
                if isinstance(value, data.RecordError):
                    raise value
                pending.append((number, data.validate_listing(value)))
            except data.RecordError as exc:
                self.errors += 1
                message = f"line {number}: {exc}"
                self.stderr.write(message)
                pending.append((number, message))
            if len(pending) >= BATCH:
                yield pending
                pending = []
        if pending:
            yield pending

    def _write(self, batch: list[tuple[int, dict[str, Any] | str]],
               scores: list[tuple[float, list[str]]]) -> None:
        results = iter(scores)
        lines = []
        for _, item in batch:
            if isinstance(item, dict):
                score, reasons = next(results)
                line: dict[str, Any] = {"score": score, "reasons": reasons}
            else:
                line = {"score": None, "reasons": [], "error": item}
            lines.append(json.dumps(line, ensure_ascii=False))
        self.stdout.write("\n".join(lines))
