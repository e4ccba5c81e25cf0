"""GET /healthz reports every component, and names the one that is down."""

from __future__ import annotations

import pytest
from channels.layers import channel_layers

from tests.conftest import CeleryOver

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_broker(settings):
    celery = CeleryOver(settings, settings.REDIS_URL)
    celery.configure()
    yield celery
    celery.restore()


@pytest.fixture
def fresh_channel_layers():
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_all_components_up_answers_200(client, search_url, real_broker, fresh_channel_layers):
    response = client.get("/healthz")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "components": {
            "database": "ok",
            "channel_layer": "ok",
            "broker": "ok",
            "storage": "ok",
            "search": "ok",
        },
    }


def test_search_down_is_503_naming_search(client, settings, real_broker, fresh_channel_layers):
    from search.client import reset_clients

    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"  # nothing listens there
    reset_clients()

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["components"]["search"] == "down"
    assert body["components"]["database"] == "ok"
    assert "search" in body["reasons"]


def test_broker_down_is_503_naming_broker(client, settings, private_redis, search_url):
    celery = CeleryOver(settings, private_redis.url)
    celery.configure()
    private_redis.stop()
    try:
        response = client.get("/healthz")
    finally:
        celery.restore()

    assert response.status_code == 503
    assert response.json()["components"]["broker"] == "down"
    assert response.json()["components"]["database"] == "ok"


def test_channel_layer_down_is_503(client, settings, search_url, fresh_channel_layers):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
        }
    }
    channel_layers.backends.clear()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["components"]["channel_layer"] == "down"


def test_missing_s3_bucket_is_503_naming_storage(client, s3_storage, search_url):
    import boto3
    from django.conf import settings

    boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).delete_bucket(Bucket=s3_storage)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["components"]["storage"] == "down"


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405
