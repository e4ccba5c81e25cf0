"""Hand-written SQL on hot paths: a cursor whose statements PostgreSQL prepares.

Parsing and planning a statement cost PostgreSQL about as much as running a
short one. A prepared statement is parsed and planned once per connection.
Django leaves preparation off so that transaction-mode poolers keep working;
`prepared_cursor` turns it on for the statements run through it only
(client-side binding cursors never prepare), and the setting
`LISTINGS_PREPARED_STATEMENTS=False` (the knob the listings detail read
introduced) turns it off everywhere, e.g. behind pgbouncer < 1.21.
The cursor goes through Django's wrappers (error translation, execute
wrappers); while queries are logged (DEBUG, query-count assertions) it is an
ordinary cursor, since a prepared execution does not keep its SQL text.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.db import connection

# Larger than any connection will ever reach: only explicit prepare=True prepares.
_NO_AUTOMATIC_PREPARE = 2**62


def prepared_cursor() -> Any:
    """A Django cursor on the default connection that prepares what it runs
    (PostgreSQL with preparation allowed; otherwise an ordinary cursor)."""
    if (
        connection.vendor != "postgresql"
        or not getattr(settings, "LISTINGS_PREPARED_STATEMENTS", True)
        # Query logging (DEBUG, query-count assertions) reads the SQL back
        # from the cursor, which a prepared execution does not keep.
        or connection.queries_logged
    ):
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _NO_AUTOMATIC_PREPARE
    return connection.make_cursor(_preparing_cursor_class()(raw))


@functools.cache
def _preparing_cursor_class() -> type[Any]:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, *, prepare: Any = None,
                    binary: Any = None) -> Any:
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparingCursor
