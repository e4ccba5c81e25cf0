from django.urls import path

from moderation import api

urlpatterns = [
    path("reports", api.ReportCreateView.as_view(), name="moderation-report"),
    path("appeals", api.AppealCreateView.as_view(), name="moderation-appeal"),
    path("moderation/queue", api.QueueView.as_view(), name="moderation-queue"),
    path("moderation/metrics", api.MetricsView.as_view(), name="moderation-metrics"),
    path("moderation/audit", api.AuditLogView.as_view(), name="moderation-audit"),
    path("moderation/cases/<str:case_id>", api.CaseDetailView.as_view(),
         name="moderation-case"),
    path("moderation/cases/<str:case_id>/claim", api.CaseClaimView.as_view(),
         name="moderation-case-claim"),
    path("moderation/cases/<str:case_id>/release", api.CaseReleaseView.as_view(),
         name="moderation-case-release"),
    path("moderation/cases/<str:case_id>/decide", api.CaseDecideView.as_view(),
         name="moderation-case-decide"),
]
