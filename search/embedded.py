"""The embedded search server: osmem-server as a child process.

Used by `manage.py serve` when ELASTICSEARCH_URL is unset. The child is given
our pid (`--parent-pid`) and exits with us even if we are killed hard.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)


def start_embedded_search(*, addr: str | None = None) -> Any:
    """Start osmem-server and return the running server (`.url`, `.close()`)."""
    from osmem_server import OsmemServer

    # osmem is a Go program: GOGC=200 lets its heap grow to twice the live data
    # (not once) between collections. Measured: ~12% less CPU per indexed
    # document for ~15% more memory (tests/load/bench_search.py). An explicit
    # GOGC in the environment wins.
    os.environ.setdefault("GOGC", "200")
    server = OsmemServer.start(freeze=False, japanese=False, addr=addr)
    logger.info("embedded search server (osmem %s) at %s", server.version, server.url)
    return server
