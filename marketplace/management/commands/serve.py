"""`python manage.py serve`: the whole marketplace in one Daphne process.

With ELASTICSEARCH_URL unset it starts osmem-server as a child process
(stopped on exit, and by osmem itself if we die) and runs the startup hooks
(search fills the index from the database). In embedded mode (no broker) a
background thread hands pending outbox events over every few seconds, the
job Celery beat does in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace import embedded


class Command(BaseCommand):
    help = "Serve HTTP and websockets with Daphne, starting embedded components as needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        search_server = None
        child_env = dict(os.environ)
        if not settings.ELASTICSEARCH_URL:
            from search.embedded import start_embedded_search

            self.stdout.write("Starting the embedded search server (osmem-server) ...")
            try:
                search_server = start_embedded_search()
            except Exception as exc:  # noqa: BLE001
                raise CommandError(f"Could not start osmem-server: {exc}") from exc
            settings.ELASTICSEARCH_URL = search_server.url
            child_env["ELASTICSEARCH_URL"] = search_server.url
            self.stdout.write(f"  search at {search_server.url}")

        for name, hook in embedded.startup_hooks():
            self.stdout.write(f"Startup: {name} ...")
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 - serve anyway, say what failed
                self.stderr.write(f"  {name} failed: {exc}")

        stop = threading.Event()
        if settings.CELERY_TASK_ALWAYS_EAGER:
            threading.Thread(target=self._dispatch_loop, args=(stop,), daemon=True).start()

        cmd = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            options["host"],
            "-p",
            str(options["port"]),
            "--proxy-headers",
            "marketplace.asgi:application",
        ]
        self.stdout.write(
            self.style.SUCCESS(
                f"Marketplace at http://{options['host']}:{options['port']}/  (Ctrl+C stops)"
            )
        )
        daphne = subprocess.Popen(cmd, env=child_env)

        def forward(signum: int, _frame: Any) -> None:
            daphne.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        try:
            code = daphne.wait()
        except KeyboardInterrupt:
            daphne.send_signal(signal.SIGINT)
            code = daphne.wait()
        finally:
            stop.set()
            if search_server is not None:
                search_server.close()
        if code not in (0, -signal.SIGINT, -signal.SIGTERM):
            raise CommandError(f"daphne exited with {code}")

    def _dispatch_loop(self, stop: threading.Event) -> None:
        from django.db import close_old_connections

        from marketplace.outbox.services import dispatch_pending

        while not stop.wait(5.0):
            try:
                dispatch_pending()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive
                self.stderr.write(f"outbox dispatch failed: {exc}")
            finally:
                close_old_connections()
