"""The one Elasticsearch client of the project, for every kind of server.

The official client sends `application/vnd.elasticsearch+json;
compatible-with=8` on every request; OpenSearch and osmem-server answer 406
to it. `PlainJsonNode` rewrites those headers to plain `application/json`,
which Elasticsearch 8/9 accept too, so one code path (elasticsearch-dsl)
works against Elasticsearch, OpenSearch and the embedded osmem-server.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from elastic_transport import Urllib3HttpNode
from elasticsearch import Elasticsearch

_VENDOR_JSON = "application/vnd.elasticsearch+json"
_VENDOR_NDJSON = "application/vnd.elasticsearch+x-ndjson"


def _plain(value: str) -> str:
    if value.startswith(_VENDOR_NDJSON):
        return "application/x-ndjson"
    if value.startswith(_VENDOR_JSON):
        return "application/json"
    return value


class PlainJsonNode(Urllib3HttpNode):
    """A urllib3 node that speaks plain JSON instead of the vendor media type."""

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Any = None,
        request_timeout: Any = None,
    ) -> Any:
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = _plain(headers[name])
        # The node's default headers carry the vendor type too.
        for name in ("accept", "content-type"):
            if name in self._headers:
                self._headers[name] = _plain(self._headers[name])
        return super().perform_request(
            method, target, body=body, headers=headers, request_timeout=request_timeout
        )


_lock = threading.Lock()
_clients: dict[str, Elasticsearch] = {}


def search_url() -> str:
    url = settings.ELASTICSEARCH_URL
    if not url:
        raise RuntimeError(
            "ELASTICSEARCH_URL is not set: `make run` starts the embedded osmem-server "
            "and sets it; in production point it at your cluster."
        )
    return url


def get_client(url: str | None = None) -> Elasticsearch:
    """A shared client for `url` (default: settings.ELASTICSEARCH_URL)."""
    url = url or search_url()
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = Elasticsearch(
                url,
                node_class=PlainJsonNode,
                request_timeout=settings.ELASTICSEARCH_TIMEOUT,
                retry_on_timeout=False,
                max_retries=1,
            )
            _clients[url] = client
        return client


def reset_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def check_search() -> None:
    """Health check: the cluster answers and is not red."""
    health = get_client().options(request_timeout=2).cluster.health()
    if health.get("status") == "red":
        raise RuntimeError("cluster status is red")
