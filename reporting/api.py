"""The reporting REST API: thin. Parse, call a selector or a service, render."""

import csv
import io

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, renderers
from rest_framework.response import Response
from rest_framework.views import APIView

from reporting import metrics
from skills.permissions import Policy, TokenScope
from skills.policy import Action


class MetricsCSVRenderer(renderers.BaseRenderer):
    """`?format=csv`: one row per group and the total (errors as `parameter,message`)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, dict) and "groups" in data:
            writer.writerow(metrics.CSV_COLUMNS)
            writer.writerows(metrics.csv_rows(data))
        else:
            writer.writerow(["parameter", "message"])
            for name, messages in (data or {}).items():
                for message in messages if isinstance(messages, list) else [messages]:
                    writer.writerow([name, message])
        return out.getvalue().encode(self.charset)


class MetricsView(APIView):
    """The process figures for a period, optionally grouped, with a trend and the backlog
    at the period's end. Level 4 sees their teams' incidents, level 5 everyone's."""

    permission_classes = [TokenScope, Policy]
    renderer_classes = [renderers.JSONRenderer, MetricsCSVRenderer]
    policy = {"get": Action.VIEW_METRICS}
    action = "get"

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, required=True, description="First day, YYYY-MM-DD."),
            OpenApiParameter("to", str, required=True, description="Last day (included), YYYY-MM-DD; at most five years after `from`."),
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
