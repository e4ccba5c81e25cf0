"""Shared REST plumbing: error bodies, pagination, the Money serializer field.

Every error answers with the same shape::

    {"detail": "human summary", "code": "machine_code", "<field>": ["message", ...]}

Validation errors keep DRF's message-per-field keys at the top level (what
API.md promises) and add a one-line ``detail`` and a ``code``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from marketplace.errors import DomainError, ValidationFailed
from marketplace.money import Money, MoneyError

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """409: the resource is in a state where this action is not allowed."""

    status_code = 409
    default_detail = "This action is not allowed in the current state."
    default_code = "conflict"


class PaymentRequired(exceptions.APIException):
    status_code = 402
    default_detail = "Payment failed."
    default_code = "payment_failed"


def _first_message(data: Any) -> str:
    if isinstance(data, dict):
        for key, value in data.items():
            message = _first_message(value)
            if message:
                return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
        return ""
    if isinstance(data, list):
        return _first_message(data[0]) if data else ""
    return str(data)


def domain_error_response(exc: DomainError) -> Response:
    if isinstance(exc, ValidationFailed):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code, **exc.fields}
    else:
        body = {"detail": exc.message, "code": exc.code}
        body.update({k: v for k, v in exc.extra.items() if v is not None})
    return Response(body, status=exc.status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(data, list):
            data = {"non_field_errors": data}
        body = {"detail": _first_message(data) or "Invalid input.", "code": "invalid", **data}
    elif isinstance(data, dict) and "detail" in data:
        detail = data["detail"]
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        body = {**data, "detail": str(detail), "code": code}
    else:
        body = {"detail": _first_message(data), "code": "error"}
    response.data = body
    return response


class ResultsPagination(PageNumberPagination):
    """`{"results": [...], "next": url|null, "previous": url|null, "count": n}`."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {
                "results": data,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "count": self.page.paginator.count,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "count": {"type": "integer"},
            },
        }


class MoneyField(serializers.Field):
    """`{"amount_minor": 1250, "currency": "CNY"}` <-> Money."""

    default_error_messages = {
        "invalid": 'Expected {{"amount_minor": <integer>, "currency": "<ISO 4217>"}}: {reason}',
    }

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        self.allow_negative = allow_negative
        super().__init__(**kwargs)

    def to_representation(self, value: Money) -> dict[str, Any]:
        return value.to_dict()

    def to_internal_value(self, data: Any) -> Money:
        try:
            money = Money.from_dict(data)
        except MoneyError as exc:
            self.fail("invalid", reason=str(exc))
        if money.amount_minor < 0 and not self.allow_negative:
            self.fail("invalid", reason="the amount must not be negative")
        return money


MONEY_SCHEMA = {
    "type": "object",
    "required": ["amount_minor", "currency"],
    "properties": {
        "amount_minor": {"type": "integer", "example": 1250},
        "currency": {"type": "string", "example": "CNY"},
    },
}

try:  # describe MoneyField in the OpenAPI schema
    from drf_spectacular.extensions import OpenApiSerializerFieldExtension

    class MoneyFieldExtension(OpenApiSerializerFieldExtension):
        target_class = "marketplace.api.MoneyField"

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            return MONEY_SCHEMA

except ImportError:  # pragma: no cover - drf-spectacular is a hard dependency
    pass
