from django.urls import path

from chat import api

urlpatterns = [
    path("conversations", api.ConversationListView.as_view(), name="conversations"),
    path(
        "conversations/<str:conversation_id>",
        api.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<str:conversation_id>/messages",
        api.MessageListView.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<str:conversation_id>/images",
        api.ImageMessageView.as_view(),
        name="conversation-images",
    ),
    path(
        "conversations/<str:conversation_id>/read", api.ReadView.as_view(), name="conversation-read"
    ),
    path(
        "conversations/<str:conversation_id>/offers",
        api.OfferCreateView.as_view(),
        name="conversation-offers",
    ),
    path(
        "offers/<str:offer_id>/accept",
        api.OfferActionView.as_view(action="accept"),
        name="offer-accept",
    ),
    path(
        "offers/<str:offer_id>/decline",
        api.OfferActionView.as_view(action="decline"),
        name="offer-decline",
    ),
    path(
        "offers/<str:offer_id>/withdraw",
        api.OfferActionView.as_view(action="withdraw"),
        name="offer-withdraw",
    ),
    path("offers/<str:offer_id>/counter", api.OfferCounterView.as_view(), name="offer-counter"),
    path("listings/<str:listing_id>/discount", api.DiscountView.as_view(), name="listing-discount"),
    path("users/<str:user_id>/block", api.BlockView.as_view(), name="user-block"),
]
