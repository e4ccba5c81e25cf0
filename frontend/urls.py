from django.urls import path

from frontend import views, views_moderation

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("register/", views.register, name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("verify-email/<str:token>/", views.verify_email, name="verify-email"),
    path("sell/", views.listing_new, name="listing-new"),
    path("items/<str:listing_id>/", views.listing_detail, name="listing"),
    path("items/<str:listing_id>/edit/", views.listing_edit, name="listing-edit"),
    path("items/<str:listing_id>/favourite/", views.listing_favourite, name="listing-favourite"),
    path("items/<str:listing_id>/chat/", views.listing_chat, name="listing-chat"),
    path("items/<str:listing_id>/buy/", views.checkout, name="checkout"),
    path("items/<str:listing_id>/report/", views_moderation.report_listing, name="listing-report"),
    path("items/<str:listing_id>/<str:action>/", views.listing_action, name="listing-action"),
    path("me/listings/", views.my_listings, name="my-listings"),
    path("me/balance/", views.balance, name="balance"),
    path("me/dashboard/", views.dashboard, name="dashboard"),
    path("me/notifications/", views.notifications, name="notifications"),
    path("me/settings/", views.settings_page, name="settings"),
    path("me/notifications/<str:notification_id>/", views.notification_open,
         name="notification-open"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<str:conversation_id>/", views.conversation, name="conversation"),
    path("orders/", views.orders, name="orders"),
    path("orders/<str:order_id>/", views.order_detail, name="order"),
    path("orders/<str:order_id>/<str:action>/", views.order_action, name="order-action"),
    path("u/<str:user_id>/", views.profile, name="profile"),
    path("moderation/", views_moderation.queue, name="moderation-queue"),
    path("moderation/audit/", views_moderation.audit, name="moderation-audit"),
    path("moderation/cases/<str:case_id>/", views_moderation.case, name="moderation-case"),
]
