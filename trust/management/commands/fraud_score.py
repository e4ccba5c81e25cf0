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
scored in batches of 1,000 (about 10,000 lines in a few seconds).
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

BATCH = 1000


class Command(BaseCommand):
    help = "Score listings from a JSONL file (or - for stdin); one JSON result a line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, metavar="FILE",
                            help="JSONL file of listing records, or - for standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["input"]
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
        from trust.fraud import data
        from trust.fraud.model import get_model

        model = get_model()
        errors = 0
        pending: list[tuple[int, dict[str, Any] | str]] = []

        def flush() -> None:
            records = [item for _, item in pending if isinstance(item, dict)]
            scores = iter(model.score_records(records))
            for _, item in pending:
                if isinstance(item, dict):
                    result = next(scores)
                    line = {"score": result.score, "reasons": result.reasons}
                else:
                    line = {"score": None, "reasons": [], "error": item}
                self.stdout.write(json.dumps(line, ensure_ascii=False))
            pending.clear()

        for number, value in data.read_jsonl(handle):
            try:
                if isinstance(value, data.RecordError):
                    raise value
                pending.append((number, data.validate_listing(value)))
            except data.RecordError as exc:
                errors += 1
                message = f"line {number}: {exc}"
                self.stderr.write(message)
                pending.append((number, message))
            if len(pending) >= BATCH:
                flush()
        flush()
        return errors
