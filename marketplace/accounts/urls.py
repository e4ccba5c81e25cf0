from django.urls import path

from marketplace.accounts import api, api_security

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/token", api_security.TokenView.as_view(), name="auth-token"),
    path("auth/2fa", api_security.SecondFactorView.as_view(), name="auth-2fa"),
    path("auth/2fa/enrol", api_security.LoginEnrolView.as_view(), name="auth-2fa-enrol"),
    path("auth/logout", api_security.LogoutView.as_view(), name="auth-logout"),
    path("auth/verify-email", api.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("auth/resend-verification", api.ResendVerificationView.as_view(), name="auth-resend"),
    path("me", api.MeView.as_view(), name="me"),
    path("me/sessions", api_security.SessionsView.as_view(), name="me-sessions"),
    path(
        "me/sessions/<str:session_id>",
        api_security.SessionDetailView.as_view(),
        name="me-session-detail",
    ),
    path("me/step-up", api_security.StepUpView.as_view(), name="me-step-up"),
    path("me/2fa", api_security.TwoFactorStatusView.as_view(), name="me-2fa"),
    path("me/2fa/enrol", api_security.TwoFactorEnrolView.as_view(), name="me-2fa-enrol"),
    path("me/2fa/confirm", api_security.TwoFactorConfirmView.as_view(), name="me-2fa-confirm"),
    path(
        "me/2fa/recovery-codes",
        api_security.RecoveryCodesView.as_view(),
        name="me-2fa-recovery-codes",
    ),
    path("me/email", api_security.EmailChangeView.as_view(), name="me-email"),
    path("me/password", api_security.PasswordChangeView.as_view(), name="me-password"),
    path("me/payout-details", api_security.PayoutDetailsView.as_view(), name="me-payout"),
    path("me/phone", api_security.PhoneStartView.as_view(), name="me-phone"),
    path("me/phone/verify", api_security.PhoneConfirmView.as_view(), name="me-phone-verify"),
    path("me/identity", api_security.IdentityView.as_view(), name="me-identity"),
    path("me/export", api_security.DataExportView.as_view(), name="me-export"),
    path(
        "me/export/download",
        api_security.DataExportDownloadView.as_view(),
        name="me-export-download",
    ),
    path("me/restore", api_security.AccountRestoreView.as_view(), name="me-restore"),
    path("users/<str:user_id>", api.UserDetailView.as_view(), name="user-detail"),
]
