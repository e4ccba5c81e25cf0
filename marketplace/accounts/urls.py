from django.urls import path

from marketplace.accounts import api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/token", api.TokenView.as_view(), name="auth-token"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/verify-email", api.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("auth/resend-verification", api.ResendVerificationView.as_view(), name="auth-resend"),
    path("me", api.MeView.as_view(), name="me"),
    path("users/<str:user_id>", api.UserDetailView.as_view(), name="user-detail"),
]
