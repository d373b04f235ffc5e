"""Inbound endpoints: Alertmanager's webhook, the generic events API and email in.
Integration accounts only (the policy's `ingest`); each answers 202 with the references."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.inbound import alerts, events, mail
from incidents.models import InboundMessage
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


class RFC822Parser(BaseParser):
    """One raw email (`message/rfc822`), as bytes, never more than MAIL_MAX_BYTES (the
    middleware refuses a larger Content-Length before anything is read; a body without one
    is read no further than the limit)."""

    media_type = "message/rfc822"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.MAIL_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _MailTooLarge()
        return raw


class _MailTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self):
        super().__init__(mail.TOO_LARGE_BODY.format(limit=settings.MAIL_MAX_BYTES))


EMAIL_TAKEN = inline_serializer(
    "EmailTaken",
    {
        "id": serializers.IntegerField(),
        "state": serializers.ChoiceField(choices=InboundMessage.State.choices),
        "outcome": serializers.ChoiceField(choices=["created", "commented", "noted", "reopened"], allow_null=True),
        "duplicate": serializers.BooleanField(),
        "reference": serializers.CharField(allow_null=True),
        "reason": serializers.CharField(allow_null=True),
    },
)


class EmailEndpoint(APIView):
    """Email in: one raw message (`Content-Type: message/rfc822`), as an MTA's pipe or a
    mail service's webhook hands it over. A new message registers an incident (channel
    email); a reply to one the sender may see becomes a comment (or a staff note) and may
    reopen it; auto-replies, bounces and loops are recorded as ignored. The same message
    twice (by Message-ID) is taken once: the second answer says `duplicate`."""

    permission_classes = [TokenScope, Policy]
    policy = {"post": Action.INGEST}
    parser_classes = [RFC822Parser]

    def initial(self, request, *args, **kwargs):
        self.action = "post"
        super().initial(request, *args, **kwargs)

    @extend_schema(request={"message/rfc822": OpenApiTypes.BINARY}, responses={202: EMAIL_TAKEN})
    def post(self, request):
        raw = request.data if isinstance(request.data, bytes) else b""
        try:
            row = mail.receive(raw, via=InboundMessage.Via.API, received_by=request.user)
        except mail.BadMessage as error:
            if error.too_large:
                raise _MailTooLarge() from None
            raise exceptions.ParseError(error.message) from None
        return Response(mail.answer(row), status=status.HTTP_202_ACCEPTED)
