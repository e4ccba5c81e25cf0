"""Domain errors raised by services; the API layer maps them to HTTP statuses.

Services never import DRF: they raise these, and `marketplace.api` turns
them into 400/403/404/409 bodies of one shape, the same for pages and sockets.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra


class ValidationFailed(DomainError):
    """Invalid input; `fields` maps a field name to its messages."""

    def __init__(self, fields: dict[str, list[str]] | str, *, code: str | None = None) -> None:
        if isinstance(fields, str):
            fields = {"non_field_errors": [fields]}
        self.fields = fields
        first_field, messages = next(iter(fields.items()))
        summary = (
            messages[0] if first_field == "non_field_errors" else f"{first_field}: {messages[0]}"
        )
        super().__init__(summary, code=code)


class NotFound(DomainError):
    """Not there, or not yours to see: the two look the same on purpose."""

    status_code = 404
    code = "not_found"

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class NotAllowed(DomainError):
    status_code = 403
    code = "permission_denied"


class InvalidState(DomainError):
    """The action is illegal in the resource's current state (HTTP 409)."""

    status_code = 409
    code = "invalid_state"

    def __init__(self, message: str, *, state: str | None = None, **extra: Any) -> None:
        super().__init__(message, state=state, **extra)
        self.state = state


class ServiceUnavailable(DomainError):
    """A component we depend on (e.g. the search server) is unreachable (HTTP 503)."""

    status_code = 503
    code = "service_unavailable"


class RateLimited(DomainError):
    status_code = 429
    code = "throttled"
