"""The reporting REST API: thin. Parse, call a selector or a service, render."""

import csv
import io

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.pagination import KeysetPagination
from incidents.selectors import access_incident
from reporting import dashboard, metrics, selectors, services
from reporting.models import ReviewAction
from reporting.serializers import (
    ReviewActionCreateSerializer,
    ReviewActionSerializer,
    ReviewCloseSerializer,
    ReviewDetailSerializer,
    ReviewRequestSerializer,
    ReviewSerializer,
    ReviewUpdateSerializer,
)
from skills.api_views import JSONErrors
from skills.permissions import Policy, TokenScope
from skills.policy import Action


class MetricsCSVRenderer(renderers.BaseRenderer):
    """`?format=csv`: one row per group and the total (errors stay JSON: `JSONErrors`)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(metrics.CSV_COLUMNS)
        writer.writerows(metrics.csv_rows(data))
        return out.getvalue().encode(self.charset)


class MetricsView(JSONErrors, APIView):
    """The process figures for a period, optionally grouped, with a trend and the backlog
    at the period's end. Level 4 sees their teams' incidents, level 5 everyone's."""

    permission_classes = [TokenScope, Policy]
    renderer_classes = [renderers.JSONRenderer, MetricsCSVRenderer]
    policy = {"get": Action.VIEW_METRICS}
    action = "get"

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:  # DRF's answer to an unknown ?format=
            raise exceptions.ValidationError({"format": ["Must be json or csv."]}) from None

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First day, YYYY-MM-DD."),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last day (included), YYYY-MM-DD; at most five years after `from`."),
            OpenApiParameter("group_by", str, enum=list(metrics.GROUPS)),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={200: dict},
    )
    def get(self, request):
        try:
            period, group_by = metrics.parse_period(request.query_params)
        except ValueError as exc:
            raise exceptions.ValidationError(exc.args[0]) from None
        data = metrics.metrics(actor=request.user, period=period, group_by=group_by)
        response = Response(data)
        if getattr(request, "accepted_renderer", None) and request.accepted_renderer.format == "csv":
            name = f"firebreak-metrics-{period.start_date}-{period.end_date}{'-' + group_by if group_by else ''}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("state", str, enum=["open", "closed"])]),
    create=extend_schema(request=ReviewRequestSerializer, responses={201: ReviewDetailSerializer}),
    retrieve=extend_schema(responses=ReviewDetailSerializer),
    partial_update=extend_schema(request=ReviewUpdateSerializer, responses=ReviewDetailSerializer),
)
class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reviews of (major) incidents: staff who may see the incident read them (security
    incidents: the security team and level 5); level 5 opens, writes up and closes them."""

    serializer_class = ReviewSerializer
    pagination_class = KeysetPagination
    ordering_fields = ("opened_at",)
    default_ordering = "-opened_at"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        queryset = selectors.reviews_visible_to(self.request.user)
        state = self.request.query_params.get("state")
        if state is not None:
            if state not in ("open", "closed"):
                raise exceptions.ValidationError({"state": ["Must be open or closed."]})
            queryset = queryset.filter(completed_at__isnull=state == "open")
        return queryset

    def get_object(self):
        return selectors.access_review(self.request.user, self.kwargs["pk"])

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _detail(self, review, status_code=200):
        review = selectors.access_review(self.request.user, review.pk)
        return Response(ReviewDetailSerializer(review, context=self.get_serializer_context()).data, status=status_code)

    def retrieve(self, request, pk=None):
        return self._detail(self.get_object())

    def create(self, request):
        serializer = ReviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = access_incident(request.user, serializer.validated_data["incident"])
        review = services.review_request(actor=request.user, incident=incident)
        return self._detail(review, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        review = self.get_object()
        serializer = ReviewUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.review_update(actor=request.user, review=review, **serializer.validated_data)
        return self._detail(review)

    @extend_schema(request=ReviewActionCreateSerializer, responses={201: ReviewActionSerializer})
    @action(detail=True, methods=["post"], url_path="actions")
    def add_action(self, request, pk=None):
        """Add an action with an owner and a due date; the owner is reminded when it falls due."""
        review = self.get_object()
        serializer = ReviewActionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.review_add_action(actor=request.user, review=review, **serializer.validated_data)
        context = self.get_serializer_context()
        return Response(ReviewActionSerializer(created, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ReviewActionSerializer)
    @action(detail=True, methods=["post"], url_path=r"actions/(?P<action_id>[0-9]+)/done")
    def action_done(self, request, pk=None, action_id=None):
        """Its owner (or level 5) marks an action done."""
        review = self.get_object()
        try:
            found = review.actions.get(pk=int(action_id))
        except ReviewAction.DoesNotExist:
            raise Http404("No such action.") from None
        done = services.review_action_done(actor=request.user, action=found)
        return Response(ReviewActionSerializer(done, context=self.get_serializer_context()).data)

    @extend_schema(request=ReviewCloseSerializer, responses=ReviewDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the review; its outcome goes by email to the service owner and the stakeholders."""
        review = self.get_object()
        serializer = ReviewCloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.review_close(actor=request.user, review=review, **serializer.validated_data)
        return self._detail(review)


class DashboardView(APIView):
    """GET the incident manager's dashboard figures (level 4 and up)."""

    permission_classes = [TokenScope, Policy]
    policy = {"get": Action.MONITOR_QUEUES}

    def initial(self, request, *args, **kwargs):
        self.action = request.method.lower()
        super().initial(request, *args, **kwargs)

    @extend_schema(responses={200: dict})
    def get(self, request):
        figures = dashboard.dashboard_figures(request.user)
        site = request.build_absolute_uri("/")[:-1]

        def absolute(links):
            if links is None:
                return None
            return {k: absolute(v) if isinstance(v, dict) else site + v for k, v in links.items()}

        return Response({
            "generated_at": figures["generated_at"],
            "totals": {**figures["totals"], "links": absolute(figures["total_links"])},
            "teams": [{**row, "links": absolute(row["links"])} for row in figures["teams"]],
            "oldest_open": figures["oldest_open"] and {
                **figures["oldest_open"], "url": site + figures["oldest_open"]["url"]
            },
            "major_incidents": [{**m, "url": site + m["url"]} for m in figures["majors"]],
            "major_incidents_link": site + figures["majors_link"],
            "days": [
                {"date": d["date"], "created": d["created"], "resolved": d["resolved"], "links": absolute(d["links"])}
                for d in figures["days"]
            ],
            "overdue_actions": [
                {**action, "url": site + action["url"]} for action in figures["overdue_actions"]
            ],
            "overdue_actions_link": site + figures["overdue_actions_link"],
        })  # fmt: skip
