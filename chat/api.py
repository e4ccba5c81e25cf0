"""Chat REST API: conversations, messages (the socket's fallback), offers, reads, blocks."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import selectors, services
from chat.models import Conversation
from chat.serializers import message_payload, offer_payload
from marketplace.api import MoneyField, ResultsPagination
from marketplace.errors import ValidationFailed

MessageSchema = inline_serializer(
    "ChatMessage",
    {
        "id": serializers.UUIDField(),
        "conversation": serializers.UUIDField(),
        "seq": serializers.IntegerField(),
        "sender": serializers.UUIDField(allow_null=True),
        "kind": serializers.ChoiceField(choices=["text", "image", "offer", "system"]),
        "body": serializers.CharField(),
        "client_id": serializers.CharField(allow_null=True),
        "offer": serializers.DictField(allow_null=True),
        "image_url": serializers.URLField(allow_null=True),
        "data": serializers.DictField(),
        "created_at": serializers.DateTimeField(),
    },
)
OfferSchema = inline_serializer(
    "ChatOffer",
    {
        "id": serializers.UUIDField(),
        "conversation": serializers.UUIDField(),
        "listing": serializers.UUIDField(),
        "buyer": serializers.UUIDField(),
        "made_by": serializers.UUIDField(),
        "amount": MoneyField(),
        "status": serializers.CharField(),
        "replaces": serializers.UUIDField(allow_null=True),
        "is_discount": serializers.BooleanField(),
        "expires_at": serializers.DateTimeField(),
        "created_at": serializers.DateTimeField(),
    },
)


class ConversationSerializer(serializers.ModelSerializer):
    listing = serializers.SerializerMethodField()
    buyer = serializers.SerializerMethodField()
    seller = serializers.SerializerMethodField()
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "listing", "buyer", "seller", "created_at", "last_message_at", "unread"]

    def _user(self, user: Any) -> dict[str, Any]:
        return {"id": str(user.pk), "username": user.username, "display_name": user.public_name}

    def get_listing(self, obj: Conversation) -> dict[str, Any]:
        listing = obj.listing
        return {
            "id": str(listing.pk),
            "title": listing.title,
            "status": listing.status,
            "price": listing.price.to_dict(),
        }

    def get_buyer(self, obj: Conversation) -> dict[str, Any]:
        return self._user(obj.buyer)

    def get_seller(self, obj: Conversation) -> dict[str, Any]:
        return self._user(obj.seller)

    def get_unread(self, obj: Conversation) -> int:
        request = self.context.get("request")
        if request is None:
            return 0
        return services.conversation_unread_count(conversation=obj, user=request.user)


class ConversationCreateInput(serializers.Serializer):
    listing = serializers.CharField()


class ConversationListView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=ConversationSerializer(many=True), tags=["chat"])
    def get(self, request: Request) -> Response:
        paginator = ResultsPagination()
        page = paginator.paginate_queryset(
            selectors.conversations_for_user(user=request.user), request, view=self
        )
        data = ConversationSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        request=ConversationCreateInput,
        responses={201: ConversationSerializer, 200: ConversationSerializer},
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        data = ConversationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation, created = services.conversation_start(
            listing_id=data.validated_data["listing"], buyer=request.user
        )
        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation.pk, user=request.user
        )
        return Response(
            ConversationSerializer(conversation, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationDetailView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=ConversationSerializer, tags=["chat"])
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation_id, user=request.user
        )
        return Response(ConversationSerializer(conversation, context={"request": request}).data)


class MessageInput(serializers.Serializer):
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    body = serializers.CharField(max_length=services.MAX_BODY, trim_whitespace=False)


class MessageListView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("after", str, description="a message id: only newer ones")],
        responses=inline_serializer(
            "MessageList",
            {
                "results": MessageSchema.__class__(many=True),
                "next": serializers.URLField(allow_null=True),
            },
        ),
        tags=["chat"],
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation_id, user=request.user
        )
        messages = selectors.messages_after(
            conversation=conversation, after=request.query_params.get("after")
        )
        next_url = None
        if len(messages) == selectors.MESSAGE_PAGE:
            next_url = request.build_absolute_uri(request.path) + f"?after={messages[-1].pk}"
        return Response({"results": [message_payload(m) for m in messages], "next": next_url})

    @extend_schema(
        request=MessageInput, responses={201: MessageSchema, 200: MessageSchema}, tags=["chat"]
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        from chat import ratelimit
        from marketplace.errors import RateLimited

        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation_id, user=request.user
        )
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not ratelimit.allow_message(request.user.pk):
            raise RateLimited("You are sending messages too fast; slow down.")
        message, created = services.message_send(
            conversation=conversation,
            sender=request.user,
            body=data.validated_data["body"],
            client_id=data.validated_data.get("client_id", ""),
        )
        return Response(
            message_payload(message),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ImageMessageView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ChatImageUpload",
                {
                    "image": serializers.ImageField(),
                    "client_id": serializers.CharField(required=False),
                },
            )
        },
        responses={201: MessageSchema},
        tags=["chat"],
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation_id, user=request.user
        )
        upload = request.FILES.get("image")
        if upload is None:
            raise ValidationFailed({"image": ["Attach a photo as `image`."]})
        message, created = services.image_message_send(
            conversation=conversation,
            sender=request.user,
            upload=upload,
            client_id=request.data.get("client_id", ""),
        )
        return Response(
            message_payload(message),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReadInput(serializers.Serializer):
    up_to = serializers.CharField()


class ReadView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=ReadInput,
        responses=inline_serializer("ReadMarker", {"last_read_seq": serializers.IntegerField()}),
        tags=["chat"],
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation_id, user=request.user
        )
        data = ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        marker = services.read_mark(
            conversation=conversation, user=request.user, up_to=data.validated_data["up_to"]
        )
        return Response({"last_read_seq": marker.last_read_seq})


class AmountInput(serializers.Serializer):
    amount_minor = serializers.IntegerField()
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class OfferCreateView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=AmountInput, responses={201: OfferSchema}, tags=["chat"])
    def post(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get_for_participant(
            conversation_id=conversation_id, user=request.user
        )
        data = AmountInput(data=request.data)
        data.is_valid(raise_exception=True)
        offer = services.offer_make(
            conversation=conversation,
            buyer=request.user,
            amount_minor=data.validated_data["amount_minor"],
            client_id=data.validated_data.get("client_id", ""),
        )
        return Response(offer_payload(offer), status=status.HTTP_201_CREATED)


class OfferActionView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    action = ""

    @extend_schema(request=None, responses=OfferSchema, tags=["chat"])
    def post(self, request: Request, offer_id: str) -> Response:
        offer = selectors.offer_get_for_participant(offer_id=offer_id, user=request.user)
        if self.action == "accept":
            result = services.offer_accept(offer=offer, actor=request.user)
        elif self.action == "decline":
            result = services.offer_decline(offer=offer, actor=request.user)
        else:
            result = services.offer_withdraw(offer=offer, actor=request.user)
        return Response(offer_payload(result))


class OfferCounterView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=AmountInput, responses={201: OfferSchema}, tags=["chat"])
    def post(self, request: Request, offer_id: str) -> Response:
        offer = selectors.offer_get_for_participant(offer_id=offer_id, user=request.user)
        data = AmountInput(data=request.data)
        data.is_valid(raise_exception=True)
        counter = services.offer_counter(
            offer=offer,
            actor=request.user,
            amount_minor=data.validated_data["amount_minor"],
            client_id=data.validated_data.get("client_id", ""),
        )
        return Response(offer_payload(counter), status=status.HTTP_201_CREATED)


class DiscountInput(serializers.Serializer):
    amount_minor = serializers.IntegerField()


class DiscountView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=DiscountInput,
        responses=inline_serializer("DiscountSent", {"sent": serializers.IntegerField()}),
        tags=["chat"],
    )
    def post(self, request: Request, listing_id: str) -> Response:
        data = DiscountInput(data=request.data)
        data.is_valid(raise_exception=True)
        sent = services.discount_offer_to_favouriters(
            listing_id=listing_id,
            seller=request.user,
            amount_minor=data.validated_data["amount_minor"],
        )
        return Response({"sent": sent})


class BlockView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["chat"])
    def post(self, request: Request, user_id: str) -> Response:
        services.user_block(blocker=request.user, blocked_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None}, tags=["chat"])
    def delete(self, request: Request, user_id: str) -> Response:
        services.user_unblock(blocker=request.user, blocked_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
