"""Each component is chosen by one environment variable: unset means the
embedded default, set means the real server. The settings are read in a
fresh interpreter per case; then each real component is exercised for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "database": settings.DATABASES["default"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "email": settings.EMAIL_BACKEND,
    "search": settings.ELASTICSEARCH_URL,
    "throttles": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"],
    "debug": settings.DEBUG,
}))
"""

COMPONENT_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "ELASTICSEARCH_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "EMAIL_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_BROKER_URL",
    "API_THROTTLING",
    "DJANGO_ENV",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
)


def run_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in COMPONENT_VARS}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, timeout=60
    )


def probe(**env: str) -> dict:
    result = run_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_unset_variables_select_the_embedded_defaults():
    config = probe()

    assert config["database"] == "django.db.backends.sqlite3"
    assert config["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert config["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert config["eager"] is True
    assert config["storage"] == "django.core.files.storage.FileSystemStorage"
    assert config["email"] == "django.core.mail.backends.console.EmailBackend"
    assert config["search"] == ""  # `serve` starts osmem-server and fills this in
    assert config["throttles"]  # throttling is on by default


def test_set_variables_select_the_real_components():
    config = probe(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
        REDIS_URL="redis://127.0.0.1:6379/3",
        ELASTICSEARCH_URL="http://search.internal:9200",
        AWS_STORAGE_BUCKET_NAME="photos",
        EMAIL_URL="smtp://mailer:secret@smtp.internal:587",
        API_THROTTLING="off",
    )

    assert config["database"] == "django.db.backends.postgresql"
    assert config["cache"] == "django_redis.cache.RedisCache"
    assert config["channel_layer"] == "chat.layers.ChatPubSubChannelLayer"  # channels-redis pub/sub
    assert config["eager"] is False
    assert config["broker"] == "redis://127.0.0.1:6379/3"
    assert config["storage"] == "storages.backends.s3.S3Storage"
    assert config["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert config["search"] == "http://search.internal:9200"
    assert config["throttles"] == []


def test_production_refuses_to_start_without_a_real_secret_key():
    result = run_settings(
        DJANGO_ENV="production", DATABASE_URL="postgres://h/db", DJANGO_ALLOWED_HOSTS="example.com"
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_database():
    result = run_settings(
        DJANGO_ENV="production", DJANGO_SECRET_KEY="x" * 60, DJANGO_ALLOWED_HOSTS="example.com"
    )

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_production_settings_pass_check_deploy():
    env = {k: v for k, v in os.environ.items() if k not in COMPONENT_VARS}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=uuid.uuid4().hex * 2,
        FIELD_ENCRYPTION_KEY="q9nN2X4bqmVtP8d0m7mN3zM2k1lJ5vR6wYcT0sE4aFk=",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/marketplace",
        DJANGO_ALLOWED_HOSTS="marketplace.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- the real components, exercised ----------------------------------------------------


@pytest.mark.django_db
def test_database_is_real_postgresql():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    assert connection.vendor == "postgresql"
    assert version.startswith("PostgreSQL")


def test_cache_goes_to_real_redis(settings):
    import redis
    from django.core.cache import cache

    key = f"probe-{uuid.uuid4().hex}"
    cache.set(key, {"n": 1}, 30)

    assert cache.get(key) == {"n": 1}
    raw = redis.Redis.from_url(settings.REDIS_URL)
    assert any(key in k.decode() for k in raw.keys(f"*{key}*"))
    cache.delete(key)


async def test_channel_layer_round_trips_through_real_redis():
    from channels.layers import get_channel_layer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = get_channel_layer()
    assert isinstance(layer, RedisPubSubChannelLayer)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "probe", "n": 7})
    assert (await layer.receive(channel))["n"] == 7


def test_storage_writes_to_real_s3(s3_storage, settings):
    import boto3
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("probe/hello.txt", ContentFile(b"hello s3"))

    body = (
        boto3.client(
            "s3",
            endpoint_url=settings.AWS_S3_ENDPOINT_URL,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        .get_object(Bucket=s3_storage, Key=name)["Body"]
        .read()
    )
    assert body == b"hello s3"


def test_search_client_talks_to_real_osmem(search_url):
    from search.client import get_client

    client = get_client()
    client.indices.create(index="probe", mappings={"properties": {"title": {"type": "text"}}})
    client.index(index="probe", id="1", document={"title": "blue bicycle"}, refresh=True)

    hits = client.search(index="probe", query={"match": {"title": "bicycle"}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]
