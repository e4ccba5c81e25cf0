from django.urls import path

from marketplace.notifications import api

urlpatterns = [
    path("me/notifications", api.NotificationListView.as_view(), name="notification-list"),
    path(
        "me/notifications/read-all",
        api.NotificationReadAllView.as_view(),
        name="notification-read-all",
    ),
    path(
        "me/notifications/<str:notification_id>/read",
        api.NotificationReadView.as_view(),
        name="notification-read",
    ),
    path(
        "me/notification-preferences",
        api.NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
]
