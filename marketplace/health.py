"""Component health checks behind `GET /healthz`.

The kernel registers the checks for what it owns (database, channel layer,
broker, storage); higher apps register theirs in `AppConfig.ready` (search
registers "search"), so the kernel imports no app. A check returns nothing
when healthy and raises when not; each runs with a short timeout so a dead
component turns into "down" rather than a hung probe.
"""

from __future__ import annotations

import concurrent.futures
import logging
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings

logger = logging.getLogger(__name__)

Check = Callable[[], None]
_checks: dict[str, Check] = {}
CHECK_TIMEOUT_SECONDS = 3.0


def register(name: str, check: Check) -> None:
    _checks[name] = check


def registered() -> dict[str, Check]:
    return dict(_checks)


def check_database() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_channel_layer() -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip() -> None:
        channel = await layer.new_channel("healthz.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz.ping", "token": token})
        message = await layer.receive(channel)
        if message.get("token") != token:
            raise RuntimeError("channel layer returned a foreign message")

    async_to_sync(roundtrip)()


def check_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded mode: tasks run in-process, there is no broker to reach
    from marketplace.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


def check_storage() -> None:
    import os

    from django.core.files.storage import default_storage

    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:
        # HEAD the bucket: a missing bucket or bad credentials must show as
        # down (a HEAD on a missing key would just answer "no such file").
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)
        return
    root = str(settings.MEDIA_ROOT)
    os.makedirs(root, exist_ok=True)
    if not os.access(root, os.W_OK):
        raise RuntimeError(f"media folder {root} is not writable")


def register_default_checks() -> None:
    register("database", check_database)
    register("channel_layer", check_channel_layer)
    register("broker", check_broker)
    register("storage", check_storage)


def _run_check(check: Check) -> None:
    from django.db import close_old_connections

    try:
        check()
    finally:
        close_old_connections()


def run_checks() -> tuple[dict[str, str], dict[str, str]]:
    """Run every check concurrently: ({"name": "ok" | "down"}, {"name": reason})."""
    results: dict[str, str] = {}
    reasons: dict[str, str] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(_checks)))
    try:
        futures = {name: pool.submit(_run_check, check) for name, check in _checks.items()}
        for name, future in futures.items():
            try:
                future.result(timeout=CHECK_TIMEOUT_SECONDS)
                results[name] = "ok"
            except concurrent.futures.TimeoutError:
                results[name] = "down"
                reasons[name] = f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"
            except Exception as exc:  # noqa: BLE001 - any failure means "down"
                logger.warning("health check %s failed: %s", name, exc)
                results[name] = "down"
                reasons[name] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results, reasons
