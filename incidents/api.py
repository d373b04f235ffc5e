"""The incidents REST API: thin. Parse with a serializer, call a service, render."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from incidents import downloads, services
from incidents.actions import ACTIONS
from incidents.filters import IncidentFilter
from incidents.models import Incident, OutboundMessage
from incidents.pagination import KeysetPagination
from incidents.selectors import (
    LIST_RELATED,
    access_attachment,
    access_incident,
    attachments_for,
    incident_as_registered,
    incidents_visible_to,
    timeline_for,
    with_config,
)
from incidents.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    DeadlineMetSerializer,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    OutboundMessageSerializer,
    TimelineEventSerializer,
)
from skills.permissions import Policy, TokenScope
from skills.policy import Action


def _endpoint(spec):
    """POST /incidents/{reference}/<name>/ for one entry of the actions table. It checks
    only that the person may see the incident (404 otherwise); the service decides the
    rest (403, 409) and the answer is the incident as it now stands."""

    def endpoint(self, request, reference=None):
        incident = self.get_object()
        serializer = spec.serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        spec.call(actor=request.user, incident=incident, data=serializer.validated_data)
        return Response(IncidentDetailSerializer(self._reload(incident)).data)

    endpoint.__name__ = spec.name.replace("-", "_")
    endpoint.__doc__ = spec.service.__doc__
    # extend_schema outside action(): action() replaces the function's kwargs, where
    # extend_schema keeps the schema (inside, the body went undocumented).
    schema = extend_schema(request=spec.serializer, responses=IncidentDetailSerializer)
    return schema(action(detail=True, methods=["post"], url_path=spec.name)(endpoint))


@extend_schema_view(
    create=extend_schema(request=IncidentCreateSerializer, responses={201: IncidentDetailSerializer}),
    retrieve=extend_schema(responses=IncidentDetailSerializer),
    partial_update=extend_schema(request=IncidentUpdateSerializer, responses=IncidentDetailSerializer),
)
class IncidentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    pagination_class = KeysetPagination
    lookup_field = "reference"
    lookup_value_regex = "INC-[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ("created_at", "priority", "resolve_due_at")
    default_ordering = "-created_at"

    def get_queryset(self):
        return incidents_visible_to(self.request.user)

    def get_object(self):
        return access_incident(self.request.user, self.kwargs["reference"], queryset=self.get_queryset())

    @staticmethod
    def _reload(incident):
        return (
            with_config(Incident.objects.select_related(*LIST_RELATED))
            .prefetch_related("tasks__done_by", "deadlines__met_by")
            .get(pk=incident.pk)
        )

    def retrieve(self, request, reference=None):
        # One read: the visible incident with everything the detail shows, not a visibility
        # check followed by a second read of the same row and its small tables.
        queryset = self.get_queryset().prefetch_related("tasks__done_by", "deadlines__met_by")
        incident = access_incident(request.user, reference, queryset=queryset)
        return Response(IncidentDetailSerializer(incident).data)

    def create(self, request):
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_register(actor=request.user, **serializer.validated_data)
        return Response(IncidentDetailSerializer(incident_as_registered(incident)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, reference=None):
        incident = self.get_object()
        serializer = IncidentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.incident_update(actor=request.user, incident=incident, **serializer.validated_data)
        return Response(IncidentDetailSerializer(self._reload(incident)).data)

    @extend_schema(responses=TimelineEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, reference=None):
        incident = self.get_object()
        return Response(TimelineEventSerializer(timeline_for(request.user, incident), many=True).data)

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path=r"tasks/(?P<position>[0-9]+)/done")
    def task_done(self, request, reference=None, position=None):
        """Mark a checklist task done."""
        incident = self.get_object()
        services.incident_complete_task(actor=request.user, incident=incident, position=int(position))
        return Response(IncidentDetailSerializer(self._reload(incident)).data)

    @extend_schema(request=DeadlineMetSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path=r"deadlines/(?P<deadline_id>[0-9]+)/met")
    def deadline_met(self, request, reference=None, deadline_id=None):
        """Record that a named deadline (such as notifying the regulator) was met."""
        incident = self.get_object()
        serializer = DeadlineMetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.incident_meet_deadline(
            actor=request.user, incident=incident, deadline_id=int(deadline_id), **serializer.validated_data
        )
        return Response(IncidentDetailSerializer(self._reload(incident)).data)

    @extend_schema(request=None, responses={200: IncidentDetailSerializer})
    @action(detail=True, methods=["post", "delete"])
    def watch(self, request, reference=None):
        """POST: follow the incident's public progress by email; DELETE: stop."""
        incident = self.get_object()
        services.incident_watch(actor=request.user, incident=incident, watching=request.method == "POST")
        return Response(IncidentDetailSerializer(self._reload(incident)).data)

    @extend_schema(methods=["GET"], responses=AttachmentSerializer(many=True))
    @extend_schema(
        methods=["POST"], request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )  # fmt: skip
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser])
    def attachments(self, request, reference=None):
        """GET: the incident's attachments. POST (multipart, the file in `file`): attach a
        file; 201 with it, `state` pending while a virus scanner is set. 400 for a type
        that is not allowed, a lying extension or a bad archive; 413 past a size limit."""
        incident = self.get_object()
        context = {"request": request, "incident": incident}
        if request.method == "GET":
            return Response(AttachmentSerializer(attachments_for(request.user, incident), many=True, context=context).data)
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        attachment = services.attachment_add(
            actor=request.user, incident=incident, name=upload.name, content=upload,
            declared_type=upload.content_type or "", channel="api",
        )  # fmt: skip
        return Response(AttachmentSerializer(attachment, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)/download",
            url_name="attachment-download")  # fmt: skip
    def attachment_download(self, request, reference=None, attachment_id=None):
        """The file, as a download (`Content-Disposition: attachment`, `nosniff`)."""
        return downloads.attachment_response(access_attachment(request.user, reference, int(attachment_id)))


for _spec in ACTIONS.values():
    setattr(IncidentViewSet, _spec.name.replace("-", "_"), _endpoint(_spec))


class OutboxViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The outbox, for level 4 and up: `?state=failed` lists what failed for good."""

    serializer_class = OutboundMessageSerializer
    permission_classes = [TokenScope, Policy]
    policy = {"list": Action.VIEW_OUTBOX}
    pagination_class = KeysetPagination
    ordering_fields = ("created_at",)
    default_ordering = "-created_at"

    def get_serializer_context(self):
        from incidents.presenters import sees_webhook_urls

        return {**super().get_serializer_context(), "shows_webhooks": sees_webhook_urls(self.request.user)}

    def get_queryset(self):
        from django.db.models import Q

        visible = incidents_visible_to(self.request.user).values("pk")
        queryset = OutboundMessage.objects.filter(Q(incident__in=visible) | Q(incident__isnull=True))
        state = self.request.query_params.get("state")
        if state is not None:
            if state not in OutboundMessage.State.values:
                from rest_framework.exceptions import ValidationError

                raise ValidationError({"state": [f"Must be one of {', '.join(OutboundMessage.State.values)}."]})
            queryset = queryset.filter(state=state)
        return queryset
