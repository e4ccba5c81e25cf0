"""Fixtures shared by every test folder.

Real parts wherever they can run here: PostgreSQL and Redis (already up, see
scripts/dev.sh), moto's S3 server and osmem-server started once per session,
a real Celery worker and Daphne server for the integration tests that ask.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import TEST_PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _isolate_side_effects(settings, tmp_path_factory) -> Iterator[None]:
    """Each test starts with no throttle history and its own media folder."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    from trust.ledger import forget_cached_accounts

    forget_cached_accounts()  # rows from an earlier test's database state
    try:
        cache.delete_pattern("*throttle*")
    except AttributeError:
        cache.clear()
    yield


@pytest.fixture
def password() -> str:
    return TEST_PASSWORD


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def client_for(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return client_for(other_user)


# --- real servers ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server over real HTTP, once per session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_server) -> Iterator[str]:
    """Point default storage at a fresh bucket on the moto server."""
    import uuid

    import boto3
    from django.core.files.storage import storages

    bucket = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {}},
    }
    storages._storages.pop("default", None)
    yield bucket
    storages._storages.pop("default", None)


@pytest.fixture
def search_url(settings, osmem_clone) -> str:
    """A fresh osmem-server clone for this test, wired into settings."""
    from search.client import reset_clients

    settings.ELASTICSEARCH_URL = osmem_clone.url
    reset_clients()
    yield osmem_clone.url
    reset_clients()


class RedisProcess:
    """A private redis-server the test may stop and start (never the shared one)."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/dev.sh test installs it)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisProcess]:
    redis = RedisProcess(tmp_path)
    redis.start()
    yield redis
    redis.stop()


class CeleryOver:
    """Points the Celery app at a broker URL and runs a real worker thread."""

    def __init__(self, settings, broker_url: str) -> None:
        from marketplace.celery import app

        self.app = app
        self.settings = settings
        self.broker_url = broker_url
        self._saved = (app.conf.broker_url, app.conf.task_always_eager)
        self._worker_cm = None

    def configure(self) -> None:
        self.settings.CELERY_TASK_ALWAYS_EAGER = False
        self.app.conf.broker_url = self.broker_url
        self.app.conf.task_always_eager = False
        self._reset_pool()

    def _reset_pool(self) -> None:
        from kombu import pools

        if self.app._pool is not None:
            self.app._pool.force_close_all()
            self.app._pool = None
        self.app.__dict__.pop("amqp", None)  # producer pool caches the connection
        # kombu keeps producer pools per broker URL globally; even eager
        # apply_async acquires one, so a closed one must not be left behind.
        pools.reset()

    def start_worker(self) -> None:
        from celery.contrib.testing.worker import start_worker

        self._worker_cm = start_worker(
            self.app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=10,
            loglevel="WARNING",
        )
        self._worker_cm.__enter__()

    def stop_worker(self) -> None:
        if self._worker_cm is not None:
            self._worker_cm.__exit__(None, None, None)
            self._worker_cm = None

    def restore(self) -> None:
        self.stop_worker()
        self.app.conf.broker_url, self.app.conf.task_always_eager = self._saved
        self._reset_pool()


@pytest.fixture
def celery_on_private_redis(settings, private_redis) -> Iterator[CeleryOver]:
    celery = CeleryOver(settings, private_redis.url)
    celery.configure()
    yield celery
    celery.restore()


@pytest.fixture
def celery_worker_on_shared_redis(settings) -> Iterator[CeleryOver]:
    """A real Celery worker consuming from the test Redis (REDIS_URL)."""
    celery = CeleryOver(settings, settings.REDIS_URL)
    celery.configure()
    celery.start_worker()
    yield celery
    celery.restore()


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class ServerProcess:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def start_daphne(extra_env: dict[str, str] | None = None) -> ServerProcess:
    """A real Daphne process serving marketplace.asgi against the test database."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        **(extra_env or {}),
    }
    proc = subprocess.Popen(
        [
            os.sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "marketplace.asgi:application",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return ServerProcess(proc, port)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("daphne did not start within 30 s")


@pytest.fixture(scope="session")
def daphne_server(django_db_setup) -> Iterator[ServerProcess]:
    """One Daphne for the session; tests that use it need transaction=True so
    the server process sees their committed rows."""
    server = start_daphne()
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(autouse=True)
def _quiet_database_before_flush(request) -> Iterator[None]:
    """Transactional tests drive server processes (Daphne, a Celery worker)
    that can still be running a statement when the test ends; the flush that
    follows would then deadlock with them. Before that flush, wait (at most
    10 s) until no other session on the test database is mid-statement or
    mid-transaction."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("transactional_db")  # so this tears down before the flush
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)


def pytest_collection_modifyitems(config, items):
    """Every transactional test restores the migrated data (the category tree,
    content types) after its flush. Mixing flushes that re-run post_migrate
    with serialized restores makes the restore collide, so all use one way."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None or not marker.kwargs.get("transaction"):
            continue
        if marker.kwargs.get("serialized_rollback"):
            continue
        kwargs = {**marker.kwargs, "serialized_rollback": True}
        item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)
