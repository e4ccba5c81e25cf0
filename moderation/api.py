"""Moderation REST API: reports and appeals (any signed-in user), the queue,
case detail with evidence, claim/release/decide, audit log and metrics
(moderators only: members of the "moderators" group)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api import ResultsPagination
from moderation import selectors, services
from moderation.models import (
    REPORTABLE_TARGETS,
    Action,
    Appeal,
    AuditLog,
    Case,
    CaseSource,
    Decision,
    Report,
    ReportReason,
)

TAGS = ["moderation"]


class IsModerator(permissions.BasePermission):
    """Members of the "moderators" group; everybody else gets 403."""

    message = "Only moderators can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.is_moderator(request.user)


def _user(user: Any) -> dict[str, Any] | None:
    return {"id": str(user.pk), "username": user.username} if user else None


# --- serializers -----------------------------------------------------------------------


class ReportInSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=[t.value for t in REPORTABLE_TARGETS])
    target_id = serializers.UUIDField()
    reason = serializers.ChoiceField(choices=ReportReason.values)
    details = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ReportSerializer(serializers.ModelSerializer):
    case = serializers.UUIDField(source="case_id")

    class Meta:
        model = Report
        fields = ["id", "case", "target_type", "target_id", "reason", "details",
                  "times_reported", "created_at", "updated_at"]


class CaseSerializer(serializers.ModelSerializer):
    """A queue row: what it is about, why, how urgent, who has it."""

    subject = serializers.SerializerMethodField()
    claimed_by = serializers.SerializerMethodField()
    listing = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "target_type", "target_id", "source", "sources", "reasons",
                  "fraud_score", "priority", "severity", "confidence", "exposure",
                  "reporter_count", "status", "claimed_by", "claimed_at", "sla_due_at",
                  "overdue", "subject", "listing", "created_at", "decided_at"]

    def get_subject(self, case: Case) -> dict[str, Any] | None:
        return _user(case.subject)

    def get_claimed_by(self, case: Case) -> dict[str, Any] | None:
        return _user(case.claimed_by)

    def get_listing(self, case: Case) -> dict[str, Any] | None:
        if not case.listing_id:
            return None
        row = (self.context.get("listings") or {}).get(case.listing_id)
        return {"id": str(case.listing_id), "title": row["title"], "status": row["status"]} \
            if row else None

    def get_overdue(self, case: Case) -> bool:
        now = self.context.get("now")
        return bool(now and case.is_in_queue and case.sla_due_at < now)


class DecisionSerializer(serializers.ModelSerializer):
    moderator = serializers.SerializerMethodField()
    appeal = serializers.UUIDField(source="appeal_id", allow_null=True)

    class Meta:
        model = Decision
        fields = ["id", "action", "automated", "moderator", "rule", "note", "refund_minor",
                  "appeal", "created_at"]

    def get_moderator(self, decision: Decision) -> dict[str, Any] | None:
        return _user(decision.moderator)


class AppealSerializer(serializers.ModelSerializer):
    case = serializers.UUIDField(source="case_id")
    decision = serializers.UUIDField(source="decision_id")

    class Meta:
        model = Appeal
        fields = ["id", "case", "decision", "statement", "status", "created_at", "decided_at"]


class CaseDetailSerializer(CaseSerializer):
    decisions = serializers.SerializerMethodField()
    appeals = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "decisions", "appeals", "evidence"]

    def get_decisions(self, case: Case) -> list[dict[str, Any]]:
        return DecisionSerializer(case.decisions.select_related("moderator"), many=True).data

    def get_appeals(self, case: Case) -> list[dict[str, Any]]:
        return AppealSerializer(case.appeals.all(), many=True).data

    def get_evidence(self, case: Case) -> dict[str, Any]:
        return selectors.case_evidence(case)


class DecideInSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[a for a in Action.values if a != Action.HOLD])
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    refund_minor = serializers.IntegerField(
        required=False, min_value=1,
        help_text="For action=split: the part of the price refunded to the buyer (minor units).",
    )


class AppealInSerializer(serializers.Serializer):
    case = serializers.UUIDField()
    statement = serializers.CharField(max_length=5000)
    token = serializers.CharField(
        required=False, max_length=500,
        help_text="The appeal token from the statement of reasons: appeal without logging in "
        "(e.g. while suspended).",
    )


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = ["id", "created_at", "actor_id", "actor_username", "automated", "action",
                  "case_id", "target_type", "target_id", "reason", "before", "after"]


def _detail(case_id: Any) -> dict[str, Any]:
    from django.utils import timezone

    case = selectors.case_get(case_id=case_id)
    listings = selectors.listing_summaries([case.listing_id])
    return CaseDetailSerializer(case, context={"listings": listings, "now": timezone.now()}).data


class QueuePagination(ResultsPagination):
    """Pages without COUNT(*): one row more than the page tells whether there
    is a next page. The queue's size is in GET /api/moderation/metrics."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        size = self.get_page_size(request) or 20
        try:
            self.number = max(int(request.query_params.get(self.page_query_param, 1)), 1)
        except ValueError:
            self.number = 1
        start = (self.number - 1) * size
        rows = list(queryset[start:start + size + 1])
        self.has_next = len(rows) > size
        return rows[:size]

    def get_paginated_response(self, data: list[Any]) -> Response:
        from rest_framework.utils.urls import remove_query_param, replace_query_param

        url = self.request.build_absolute_uri()
        next_url = replace_query_param(url, self.page_query_param, self.number + 1) \
            if self.has_next else None
        if self.number <= 1:
            previous = None
        elif self.number == 2:
            previous = remove_query_param(url, self.page_query_param)
        else:
            previous = replace_query_param(url, self.page_query_param, self.number - 1)
        return Response({"results": data, "next": next_url, "previous": previous})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        body = super().get_paginated_response_schema(schema)
        body["properties"].pop("count", None)
        return body


# --- views -----------------------------------------------------------------------------


class ReportCreateView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, request=ReportInSerializer, responses={201: ReportSerializer},
                   summary="Report a listing, user or message (a repeat report merges: 200)")
    def post(self, request: Request) -> Response:
        data = ReportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report, created = services.report_submit(reporter=request.user, **data.validated_data)
        return Response(ReportSerializer(report).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class QueueView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        tags=TAGS, responses=CaseSerializer(many=True),
        summary="The review queue: open, claimed and appealed cases by priority",
        parameters=[
            OpenApiParameter("status", str, enum=["open", "claimed", "appealed"]),
            OpenApiParameter("source", str, enum=CaseSource.values),
            OpenApiParameter("target_type", str, enum=["listing", "user", "message", "order"]),
            OpenApiParameter("mine", bool, description="Only cases I claimed"),
            OpenApiParameter("page", int), OpenApiParameter("page_size", int),
        ],
    )
    def get(self, request: Request) -> Response:
        from django.utils import timezone

        params = request.query_params
        cases = selectors.queue(
            status=params.get("status") or None, source=params.get("source") or None,
            target_type=params.get("target_type") or None,
            claimed_by=request.user if params.get("mine") in ("1", "true") else None,
        )
        paginator = QueuePagination()
        page = paginator.paginate_queryset(cases, request, view=self)
        listings = selectors.listing_summaries([c.listing_id for c in page])
        data = CaseSerializer(page, many=True,
                              context={"listings": listings, "now": timezone.now()}).data
        return paginator.get_paginated_response(data)


class CaseDetailView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(tags=TAGS, responses=CaseDetailSerializer,
                   summary="A case with its evidence, decisions and appeals")
    def get(self, request: Request, case_id: str) -> Response:
        return Response(_detail(case_id))


class CaseClaimView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(tags=TAGS, request=None, responses=CaseDetailSerializer,
                   summary="Claim a case (409 when another moderator has it)")
    def post(self, request: Request, case_id: str) -> Response:
        case = services.case_claim(case_id=case_id, moderator=request.user)
        return Response(_detail(case.pk))


class CaseReleaseView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(tags=TAGS, request=None, responses=CaseDetailSerializer,
                   summary="Give a claimed case back to the queue")
    def post(self, request: Request, case_id: str) -> Response:
        case = services.case_release(case_id=case_id, moderator=request.user)
        return Response(_detail(case.pk))


class CaseDecideView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(tags=TAGS, request=DecideInSerializer, responses=CaseDetailSerializer,
                   summary="Decide a case: approve, remove, warn, suspend, refund, release, split")
    def post(self, request: Request, case_id: str) -> Response:
        data = DecideInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.case_decide(case_id=case_id, moderator=request.user,
                                        **data.validated_data)
        return Response(_detail(decision.case_id))


class AppealCreateView(APIView):
    # Logged in, or holding the appeal token of a statement of reasons.
    permission_classes = [permissions.AllowAny]

    @extend_schema(tags=TAGS, request=AppealInSerializer, responses={201: AppealSerializer},
                   summary="Appeal the decision on your case (within 6 months)")
    def post(self, request: Request) -> Response:
        data = AppealInSerializer(data=request.data)
        if not request.user.is_authenticated and not request.data.get("token"):
            raise exceptions.NotAuthenticated(
                "Log in, or use the appeal link from your statement of reasons."
            )
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if request.user.is_authenticated and not fields.get("token"):
            appeal = services.appeal_submit(appellant=request.user, case_id=fields["case"],
                                            statement=fields["statement"])
        else:
            appeal = services.appeal_submit_with_token(token=fields["token"],
                                                       case_id=fields["case"],
                                                       statement=fields["statement"])
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)


class AuditLogView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        tags=TAGS, responses=AuditLogSerializer(many=True),
        summary="The audit log, newest first",
        parameters=[OpenApiParameter("case", str), OpenApiParameter("target_id", str),
                    OpenApiParameter("actor", str), OpenApiParameter("page", int)],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        entries = selectors.audit_entries(case_id=params.get("case"),
                                          target_id=params.get("target_id"),
                                          actor_id=params.get("actor"))
        paginator = ResultsPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditLogSerializer(page, many=True).data)


class MetricsView(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        tags=TAGS, responses=dict,
        summary="Dashboard figures: queue size, median time to decision, decisions by type, "
                "precision of automatic flags",
        parameters=[OpenApiParameter("days", int, description="Window (default 30)")],
    )
    def get(self, request: Request) -> Response:
        try:
            days = min(max(int(request.query_params.get("days", 30)), 1), 3650)
        except ValueError:
            days = 30
        return Response(selectors.metrics(days=days))
