"""Orders (escrow), balance and statement, payment and carrier webhooks."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api import MoneyField, ResultsPagination
from marketplace.idempotency import idempotent
from marketplace.money import Money
from trust import escrow, ledger, selectors
from trust.models import Order
from trust.payments import SignatureError, parse_event, verify


def _user(user: Any) -> dict[str, Any]:
    return {"id": str(user.pk), "username": user.username, "display_name": user.public_name}


class OrderSerializer(serializers.ModelSerializer):
    listing = serializers.SerializerMethodField()
    buyer = serializers.SerializerMethodField()
    seller = serializers.SerializerMethodField()
    price = MoneyField()
    fee = MoneyField()
    seller_receives = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    handover_code = serializers.SerializerMethodField()
    dispute = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "listing",
            "buyer",
            "seller",
            "price",
            "fee",
            "seller_receives",
            "delivery",
            "carrier",
            "tracking",
            "handover_code",
            "created_at",
            "pay_by",
            "paid_at",
            "ship_by",
            "shipped_at",
            "delivered_at",
            "release_at",
            "closed_at",
            "dispute",
            "timeline",
        ]

    def get_listing(self, order: Order) -> dict[str, Any]:
        return {"id": str(order.listing_id), "title": order.listing.title}

    def get_buyer(self, order: Order) -> dict[str, Any]:
        return _user(order.buyer)

    def get_seller(self, order: Order) -> dict[str, Any]:
        return _user(order.seller)

    def get_seller_receives(self, order: Order) -> dict[str, Any]:
        return (order.price - order.fee).to_dict()

    def get_timeline(self, order: Order) -> list[dict[str, Any]]:
        return [
            {
                "status": e.status,
                "action": e.action,
                "at": e.at.isoformat(),
                "actor": str(e.actor_id) if e.actor_id else None,
                "note": e.note,
            }
            for e in order.events.all()
        ]

    def get_handover_code(self, order: Order) -> str | None:
        request = self.context.get("request")
        if (
            request
            and request.user.pk == order.buyer_id
            and order.delivery == "handover"
            and order.status == "paid"
        ):
            return order.handover_code
        return None

    def get_dispute(self, order: Order) -> dict[str, Any] | None:
        if not order.dispute_state:
            return None
        return {
            "state": order.dispute_state,
            "reason": order.dispute_reason,
            "details": order.dispute_details,
            "respond_by": order.dispute_respond_by.isoformat()
            if order.dispute_respond_by
            else None,
        }


def _answer(request: Request, order: Order, code: int = status.HTTP_200_OK) -> Response:
    order = selectors.order_get_for_party(order_id=order.pk, user=request.user)
    return Response(OrderSerializer(order, context={"request": request}).data, status=code)


class OrderCreateInput(serializers.Serializer):
    listing = serializers.CharField()
    offer = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class OrderListView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=OrderSerializer(many=True), tags=["orders"])
    def get(self, request: Request) -> Response:
        paginator = ResultsPagination()
        page = paginator.paginate_queryset(
            selectors.orders_for_user(user=request.user, role=request.query_params.get("role")),
            request,
            view=self,
        )
        return paginator.get_paginated_response(
            OrderSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(request=OrderCreateInput, responses={201: OrderSerializer}, tags=["orders"])
    @idempotent
    def post(self, request: Request) -> Response:
        data = OrderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = escrow.order_create(
            buyer=request.user,
            listing_id=data.validated_data["listing"],
            offer_id=data.validated_data.get("offer") or None,
        )
        return _answer(request, order, status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=OrderSerializer, tags=["orders"])
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        return Response(OrderSerializer(order, context={"request": request}).data)


class PayInput(serializers.Serializer):
    payment_method = serializers.CharField(max_length=40)


class OrderPayView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=PayInput, responses=OrderSerializer, tags=["orders"])
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = PayInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = escrow.order_pay(
            order=order,
            buyer=request.user,
            payment_method=data.validated_data["payment_method"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return _answer(request, order)


class ShipInput(serializers.Serializer):
    carrier = serializers.CharField(max_length=60)
    tracking = serializers.CharField(max_length=100)


class OrderShipView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ShipInput, responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = ShipInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            request, escrow.order_ship(order=order, seller=request.user, **data.validated_data)
        )


class HandoverInput(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class OrderHandoverView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=HandoverInput, responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = HandoverInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            request,
            escrow.order_handover(
                order=order, seller=request.user, code=data.validated_data["code"]
            ),
        )


class OrderSimpleActionView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    action = ""

    @extend_schema(request=None, responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        if self.action == "confirm":
            order = escrow.order_confirm(order=order, buyer=request.user)
        elif self.action == "cancel":
            order = escrow.order_cancel(
                order=order,
                actor=request.user,
                reason=str(request.data.get("reason", ""))[:500]
                if hasattr(request.data, "get")
                else "",
            )
        elif self.action == "return_received":
            order = escrow.dispute_return_received(order=order, seller=request.user)
        return _answer(request, order)


class DisputeInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=escrow.DISPUTE_REASONS)
    details = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class OrderDisputeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=DisputeInput, responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = DisputeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            request,
            escrow.order_dispute(
                order=order,
                buyer=request.user,
                reason=data.validated_data["reason"],
                details=data.validated_data.get("details", ""),
            ),
        )


class DisputeRespondInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["refund", "accept_return", "contest"])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class DisputeRespondView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=DisputeRespondInput, responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = DisputeRespondInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            request,
            escrow.dispute_seller_respond(
                order=order,
                seller=request.user,
                action=data.validated_data["action"],
                note=data.validated_data.get("note", ""),
            ),
        )


class ReturnShippedView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ShipInput, responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data = ShipInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            request,
            escrow.dispute_return_shipped(order=order, buyer=request.user, **data.validated_data),
        )


class BalanceView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "Balance",
            {"available": MoneyField(), "held": MoneyField(), "statement": serializers.URLField()},
        ),
        tags=["orders"],
    )
    def get(self, request: Request) -> Response:
        from django.conf import settings

        currency = settings.MARKETPLACE_CURRENCY
        return Response(
            {
                "available": ledger.user_available(request.user.pk, currency).to_dict(),
                "held": ledger.user_held(request.user.pk, currency).to_dict(),
                "statement": request.build_absolute_uri(reverse("statement")),
            }
        )


class StatementView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "StatementLine",
            {
                "at": serializers.DateTimeField(),
                "kind": serializers.CharField(),
                "account": serializers.CharField(),
                "amount": MoneyField(allow_negative=True),
                "order": serializers.UUIDField(allow_null=True),
                "memo": serializers.CharField(),
            },
            many=True,
        ),
        tags=["orders"],
    )
    def get(self, request: Request) -> Response:
        paginator = ResultsPagination()
        page = paginator.paginate_queryset(
            selectors.statement_lines(user=request.user), request, view=self
        )
        rows = []
        for line in page:
            # Shown from the user's side: money in is positive.
            signed = -line.amount_minor
            rows.append(
                {
                    "at": line.entry.created_at.isoformat(),
                    "kind": line.entry.kind,
                    "account": line.account.kind,
                    "order": str(line.entry.order_id) if line.entry.order_id else None,
                    "amount": Money(signed, line.currency).to_dict(),
                    "memo": line.entry.memo,
                }
            )
        return paginator.get_paginated_response(rows)


class _WebhookView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []
    secret_setting = "PAYMENT_WEBHOOK_SECRET"  # noqa: S105 - a setting name

    def _verified_event(self, request: Request) -> dict[str, Any] | Response:
        from django.conf import settings

        body = request.body
        try:
            verify(
                body,
                request.headers.get("X-Signature"),
                secret=getattr(settings, self.secret_setting),
            )
            return parse_event(body)
        except SignatureError as exc:
            return Response({"detail": str(exc), "code": "bad_signature"}, status=400)


class PaymentWebhookView(_WebhookView):
    @extend_schema(
        request=None,
        responses=inline_serializer("WebhookResult", {"outcome": serializers.CharField()}),
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        event = self._verified_event(request)
        if isinstance(event, Response):
            return event
        return Response({"outcome": escrow.payment_webhook(event=event)})


class CarrierWebhookView(_WebhookView):
    secret_setting = "CARRIER_WEBHOOK_SECRET"  # noqa: S105 - a setting name

    @extend_schema(
        request=None,
        responses=inline_serializer("CarrierWebhookResult", {"outcome": serializers.CharField()}),
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        event = self._verified_event(request)
        if isinstance(event, Response):
            return event
        return Response({"outcome": escrow.carrier_webhook(event=event)})
