from django.urls import path

from trust import api

urlpatterns = [
    path("orders", api.OrderListView.as_view(), name="orders"),
    path("orders/<str:order_id>", api.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:order_id>/pay", api.OrderPayView.as_view(), name="order-pay"),
    path("orders/<str:order_id>/ship", api.OrderShipView.as_view(), name="order-ship"),
    path("orders/<str:order_id>/handover", api.OrderHandoverView.as_view(), name="order-handover"),
    path(
        "orders/<str:order_id>/confirm",
        api.OrderSimpleActionView.as_view(action="confirm"),
        name="order-confirm",
    ),
    path(
        "orders/<str:order_id>/cancel",
        api.OrderSimpleActionView.as_view(action="cancel"),
        name="order-cancel",
    ),
    path("orders/<str:order_id>/dispute", api.OrderDisputeView.as_view(), name="order-dispute"),
    path(
        "orders/<str:order_id>/dispute/respond",
        api.DisputeRespondView.as_view(),
        name="order-dispute-respond",
    ),
    path(
        "orders/<str:order_id>/dispute/return-shipped",
        api.ReturnShippedView.as_view(),
        name="order-return-shipped",
    ),
    path(
        "orders/<str:order_id>/dispute/return-received",
        api.OrderSimpleActionView.as_view(action="return_received"),
        name="order-return-received",
    ),
    path("me/balance", api.BalanceView.as_view(), name="balance"),
    path("me/statement", api.StatementView.as_view(), name="statement"),
    path("payments/webhook", api.PaymentWebhookView.as_view(), name="payments-webhook"),
    path("shipping/webhook", api.CarrierWebhookView.as_view(), name="shipping-webhook"),
]

# Reviews and reputation (issue 7).
from trust import reviews_api  # noqa: E402

urlpatterns += [
    path(
        "orders/<str:order_id>/review", reviews_api.OrderReviewView.as_view(), name="order-review"
    ),
    path("users/<str:user_id>/reviews", reviews_api.UserReviewsView.as_view(), name="user-reviews"),
]
