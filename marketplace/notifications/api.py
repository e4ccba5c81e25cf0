"""Notifications REST API: the caller's list with its unread count, marking
read, and e-mail preferences per kind."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api import ResultsPagination
from marketplace.notifications import kinds, selectors, services


class NotificationSchema(serializers.Serializer):
    """Documentation only: services.notification_as_dict builds the body."""

    id = serializers.UUIDField()
    kind = serializers.CharField()
    payload = serializers.DictField()
    link = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    is_read = serializers.BooleanField()


NotificationPageSchema = inline_serializer(
    "NotificationPage",
    {
        "results": NotificationSchema(many=True),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "count": serializers.IntegerField(),
        "unread_count": serializers.IntegerField(),
    },
)
PreferencesSchema = inline_serializer(
    "NotificationPreferences",
    {name: serializers.ChoiceField(choices=kinds.FREQUENCIES) for name in kinds.KINDS},
)
PreferencesPatchSchema = inline_serializer(
    "NotificationPreferencesPatch",
    {
        name: serializers.ChoiceField(choices=kinds.FREQUENCIES, required=False)
        for name in [*kinds.KINDS, kinds.ALL_KINDS]
    },
)


class NotificationListView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, description="only unread ones"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=NotificationPageSchema,
    )
    def get(self, request: Request) -> Response:
        unread_only = request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        qs = selectors.notifications_for(recipient=request.user, unread_only=unread_only)
        paginator = ResultsPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        response = paginator.get_paginated_response(
            [services.notification_as_dict(n) for n in page or []]
        )
        response.data["unread_count"] = selectors.unread_count(recipient=request.user)
        return response


class NotificationReadView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses=NotificationSchema)
    def post(self, request: Request, notification_id: str) -> Response:
        notification = selectors.notification_get_for_recipient(
            recipient=request.user, notification_id=notification_id
        )
        services.notifications_mark_read(recipient=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db(fields=["read_at"])
        return Response(services.notification_as_dict(notification))


class NotificationReadAllView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "NotificationsReadAll",
            {"marked": serializers.IntegerField(), "unread_count": serializers.IntegerField()},
        ),
    )
    def post(self, request: Request) -> Response:
        marked = services.notifications_mark_read(recipient=request.user)
        return Response(
            {"marked": marked, "unread_count": selectors.unread_count(recipient=request.user)}
        )


class NotificationPreferencesView(APIView):
    """E-mail frequency per kind: `immediately`, `daily` (digest) or `never`.
    In-app notifications are always kept. PATCH `{"*": "never"}` sets all."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=PreferencesSchema)
    def get(self, request: Request) -> Response:
        return Response(services.preferences_for(user=request.user))

    @extend_schema(request=PreferencesPatchSchema, responses=PreferencesSchema)
    def patch(self, request: Request) -> Response:
        data: Any = request.data
        changes = data.dict() if hasattr(data, "dict") else data  # a form QueryDict
        return Response(services.preferences_update(user=request.user, changes=changes))
