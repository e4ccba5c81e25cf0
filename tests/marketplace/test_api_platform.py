"""Platform-wide API behaviour: schema and docs, throttling, error shapes."""

from __future__ import annotations

import pytest
from rest_framework.throttling import ScopedRateThrottle

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_the_contract_paths(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/auth/register", "/api/auth/token", "/api/me", "/api/users/{user_id}"):
        assert path in paths


def test_api_docs_page_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_credential_endpoints_are_throttled_per_ip(api_client, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    body = {"username": "nobody", "password": "wrong"}

    statuses = [
        api_client.post("/api/auth/token", body, format="json").status_code for _ in range(4)
    ]

    assert statuses == [400, 400, 400, 429]
    last = api_client.post("/api/auth/token", body, format="json")
    assert last.json()["code"] == "throttled"
    assert "Retry-After" in last.headers


def test_unknown_api_path_is_json_404_not_a_traceback(client):
    response = client.get("/api/no-such-thing")

    assert response.status_code == 404
