"""The production layout of the Procfile runs: gunicorn serves HTTP with the
production settings, and Celery's command line starts a worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from tests.conftest import _test_database_url, free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_gunicorn_serves_the_api_with_production_settings(search_url, settings):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
        "FIELD_ENCRYPTION_KEY": "q9nN2X4bqmVtP8d0m7mN3zM2k1lJ5vR6wYcT0sE4aFk=",
        "DATABASE_URL": _test_database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "ELASTICSEARCH_URL": search_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "marketplace.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    status, body = r.status, r.read()
                break
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert status == 200, body

        # Everything else is HTTPS-only in production: plain HTTP is redirected.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/me")
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(request, timeout=5)
        assert redirected.value.code == 301
        assert redirected.value.headers["Location"].startswith("https://")
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=15)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_celery_worker_process_delivers_outbox_events(api_client, settings, tmp_path):
    """`celery -A marketplace worker` (the Procfile's worker line) as a real process."""
    from marketplace.outbox.models import OutboxEvent
    from tests.conftest import CeleryOver

    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_URL": "dummymail://",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "marketplace",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    celery = CeleryOver(settings, settings.REDIS_URL)
    celery.configure()
    try:
        response = api_client.post(
            "/api/auth/register",
            {"username": "procfile", "email": "p@example.com", "password": "sturdy-Pass-42"},
            format="json",
        )
        assert response.status_code == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if OutboxEvent.objects.filter(delivered_at__isnull=False).exists():
                break
            time.sleep(0.2)
        event = OutboxEvent.objects.get(topic="accounts.user_registered")
        assert event.delivered_at is not None, event.last_error
    finally:
        celery.restore()
        worker.terminate()
        worker.wait(timeout=30)
