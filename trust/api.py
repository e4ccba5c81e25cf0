"""Orders (escrow), balance and statement, payment and carrier webhooks."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api import MoneyField, ResultsPagination
from marketplace.errors import NotFound
from marketplace.idempotency import idempotent
from marketplace.ids import parse_uuid
from marketplace.money import Money
from trust import escrow, ledger, selectors
from trust.models import DisputeEvidence, Order
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
            "evidence": [
                _evidence_item(self.context["request"], order, item)
                for item in order.evidence.all()
            ],
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
            selectors.orders_for_user(
                user=request.user, role=request.query_params.get("role")
            ).prefetch_related("evidence"),
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


class _OrderActionView(APIView):
    """POST /api/orders/{id}/<action>: the access check (404 unless a party or a
    moderator), the input checked by `serializer_class` (if any), one escrow
    service call in `perform`, and the order as the party sees it."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class: type[serializers.Serializer] | None = None

    def get_serializer_class(self) -> type[serializers.Serializer] | None:
        return self.serializer_class  # read by drf-spectacular for the request schema

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        raise NotImplementedError

    @extend_schema(responses=OrderSerializer, tags=["orders"])
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        data: dict[str, Any] = {}
        if self.serializer_class is not None:
            checked = self.serializer_class(data=request.data)
            checked.is_valid(raise_exception=True)
            data = dict(checked.validated_data)
        return _answer(request, self.perform(request, order, data))


class PayInput(serializers.Serializer):
    payment_method = serializers.CharField(max_length=40)


class OrderPayView(_OrderActionView):
    serializer_class = PayInput

    @extend_schema(request=PayInput, responses=OrderSerializer, tags=["orders"])
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        return super().post(request, order_id)

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.order_pay(
            order=order,
            buyer=request.user,
            payment_method=data["payment_method"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )


class ShipInput(serializers.Serializer):
    carrier = serializers.CharField(max_length=60)
    tracking = serializers.CharField(max_length=100)


class OrderShipView(_OrderActionView):
    serializer_class = ShipInput

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.order_ship(order=order, seller=request.user, **data)


class HandoverInput(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class OrderHandoverView(_OrderActionView):
    serializer_class = HandoverInput

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.order_handover(order=order, seller=request.user, code=data["code"])


@extend_schema_view(post=extend_schema(request=None))
class OrderConfirmView(_OrderActionView):
    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.order_confirm(order=order, buyer=request.user)


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class OrderCancelView(_OrderActionView):
    serializer_class = CancelInput

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        reason = data.get("reason", "")[:500]  # a long reason is cut, not refused
        return escrow.order_cancel(order=order, actor=request.user, reason=reason)


class DisputeInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=escrow.DISPUTE_REASONS)
    details = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class OrderDisputeView(_OrderActionView):
    serializer_class = DisputeInput

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.order_dispute(
            order=order,
            buyer=request.user,
            reason=data["reason"],
            details=data.get("details", ""),
        )


class DisputeRespondInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["refund", "accept_return", "contest"])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class DisputeRespondView(_OrderActionView):
    serializer_class = DisputeRespondInput

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.dispute_seller_respond(
            order=order, seller=request.user, action=data["action"], note=data.get("note", "")
        )


class ReturnShippedView(_OrderActionView):
    serializer_class = ShipInput

    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.dispute_return_shipped(order=order, buyer=request.user, **data)


@extend_schema_view(post=extend_schema(request=None))
class ReturnReceivedView(_OrderActionView):
    def perform(self, request: Request, order: Order, data: dict[str, Any]) -> Order:
        return escrow.dispute_return_received(order=order, seller=request.user)


# --- dispute evidence photos ---------------------------------------------------------------------


def _evidence_item(request: Request, order: Order, item: DisputeEvidence) -> dict[str, Any]:
    return {
        "id": str(item.pk),
        "url": request.build_absolute_uri(
            reverse("order-dispute-evidence-file", args=[str(order.pk), str(item.pk)])
        ),
        "uploaded_by": str(item.uploaded_by_id),
        "role": "buyer" if item.uploaded_by_id == order.buyer_id else "seller",
        "width": item.width,
        "height": item.height,
        "created_at": item.created_at.isoformat(),
    }


class EvidenceItem(serializers.Serializer):
    """The shape of one evidence photo (for the schema; `_evidence_item` builds it)."""

    id = serializers.UUIDField()
    url = serializers.URLField()
    uploaded_by = serializers.UUIDField()
    role = serializers.ChoiceField(choices=["buyer", "seller"])
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class EvidenceUploadInput(serializers.Serializer):
    image = serializers.ListField(child=serializers.ImageField(), help_text="one or more photos")


class DisputeEvidenceView(APIView):
    """The dispute's photos: both parties and moderators list them; the buyer
    and the seller add theirs (multipart, field `image`, repeatable)."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        responses=inline_serializer("DisputeEvidenceList", {"evidence": EvidenceItem(many=True)}),
        tags=["orders"],
    )
    def get(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        items = order.evidence.all()
        return Response({"evidence": [_evidence_item(request, order, item) for item in items]})

    @extend_schema(
        request={"multipart/form-data": EvidenceUploadInput},
        responses={
            201: inline_serializer("DisputeEvidenceAdded", {"evidence": EvidenceItem(many=True)})
        },
        tags=["orders"],
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        uploads = request.FILES.getlist("image") + request.FILES.getlist("images")
        items = escrow.dispute_evidence_add(order=order, actor=request.user, uploads=uploads)
        return Response(
            {"evidence": [_evidence_item(request, order, item) for item in items]},
            status=status.HTTP_201_CREATED,
        )


class DisputeEvidenceFileView(APIView):
    """One evidence photo, streamed after the same access check as the order:
    there is no public URL to leak."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        operation_id="orders_dispute_evidence_file",
        responses={(200, "image/jpeg"): bytes},
        tags=["orders"],
    )
    def get(self, request: Request, order_id: str, evidence_id: str) -> FileResponse:
        order = selectors.order_get_for_party(order_id=order_id, user=request.user)
        uid = parse_uuid(evidence_id)
        item = order.evidence.filter(pk=uid).first() if uid else None
        if item is None:
            raise NotFound("No such photo.")
        response = FileResponse(default_storage.open(item.image.name), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response


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


class PayoutInput(serializers.Serializer):
    amount = MoneyField()


class PayoutView(APIView):
    """`POST /api/me/payouts {amount}` with an `Idempotency-Key` header: pay
    part of the available balance out to the saved payout details."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=PayoutInput,
        responses={201: inline_serializer("Payout", {
            "id": serializers.UUIDField(), "amount": MoneyField(), "available": MoneyField(),
        })},
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        from trust import payouts

        data = PayoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        amount = data.validated_data["amount"]
        entry = payouts.payout_request(
            user=request.user, amount=amount,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response(
            {"id": str(entry.pk), "amount": amount.to_dict(),
             "available": ledger.user_available(request.user.pk, amount.currency).to_dict()},
            status=status.HTTP_201_CREATED,
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
