"""Regenerate frontend/domain_messages.py from the apps' services (see
frontend/domain_scan.py), then run makemessages/compilemessages in frontend/."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from frontend import domain_scan


class Command(BaseCommand):
    help = "Collect the services' user-visible messages for the front end's catalogue."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true",
                            help="exit 1 when the generated file is stale")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        target = domain_scan.ROOT / "frontend" / "domain_messages.py"
        messages, chat_notes = domain_scan.scan_all()
        text = domain_scan.render_module(messages, chat_notes)
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if check:
            if current != text:
                self.stderr.write("frontend/domain_messages.py is stale: run frontend_messages")
                raise SystemExit(1)
            self.stdout.write(f"{len(messages)} messages, up to date")
            return
        target.write_text(text, encoding="utf-8")
        self.stdout.write(f"{len(messages)} messages written to {target}")
