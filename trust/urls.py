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
        api.OrderConfirmView.as_view(),
        name="order-confirm",
    ),
    path(
        "orders/<str:order_id>/cancel",
        api.OrderCancelView.as_view(),
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
        api.ReturnReceivedView.as_view(),
        name="order-return-received",
    ),
    path(
        "orders/<str:order_id>/dispute/evidence",
        api.DisputeEvidenceView.as_view(),
        name="order-dispute-evidence",
    ),
    path(
        "orders/<str:order_id>/dispute/evidence/<str:evidence_id>",
        api.DisputeEvidenceFileView.as_view(),
        name="order-dispute-evidence-file",
    ),
    path("me/balance", api.BalanceView.as_view(), name="balance"),
    path("me/payouts", api.PayoutView.as_view(), name="payouts"),
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
