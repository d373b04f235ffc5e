"""Inbound endpoints for monitors: Alertmanager's webhook and the generic events API.
Integration accounts only (the policy's `ingest`); both answer 202 with the references."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.inbound import alerts, events
from skills.permissions import Policy, TokenScope
from skills.policy import Action

OUTCOME = inline_serializer(
    "InboundOutcome",
    {
        "outcome": serializers.CharField(),
        "reference": serializers.CharField(allow_null=True),
    },
)


class AlertmanagerWebhook(APIView):
    """Prometheus Alertmanager's webhook (body version 4): the body is checked and its
    alerts kept; a worker applies them (one open incident per alert fingerprint; repeats
    count; `resolved` resolves what nobody has taken over)."""

    permission_classes = [TokenScope, Policy]
    policy = {"post": Action.INGEST}

    def initial(self, request, *args, **kwargs):
        self.action = "post"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request=inline_serializer("AlertmanagerBody", {"version": serializers.CharField(), "alerts": serializers.ListField()}),
        responses={202: inline_serializer("AlertmanagerAccepted", {"accepted": serializers.IntegerField(),
                                                                   "alerts": serializers.ListField()})},
    )
    def post(self, request):
        accepted = alerts.accept(actor=request.user, body=request.data)
        return Response({"accepted": len(accepted), "alerts": accepted}, status=status.HTTP_202_ACCEPTED)


class EventsEndpoint(APIView):
    """Generic monitoring events: trigger, acknowledge, resolve by `dedup_key`."""

    permission_classes = [TokenScope, Policy]
    policy = {"post": Action.INGEST}

    def initial(self, request, *args, **kwargs):
        self.action = "post"
        super().initial(request, *args, **kwargs)

    @extend_schema(request=events.EventSerializer, responses={202: OUTCOME})
    def post(self, request):
        serializer = events.EventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = events.receive(actor=request.user, event=serializer.validated_data)
        return Response(result, status=status.HTTP_202_ACCEPTED)
