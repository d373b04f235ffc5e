"""The incidents REST API: thin. Parse with a serializer, call a service, render."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents import services
from incidents.filters import IncidentFilter
from incidents.models import Incident, OutboundMessage
from incidents.pagination import KeysetPagination
from incidents.selectors import (
    LIST_RELATED,
    access_incident,
    incidents_visible_to,
    list_prefetches,
    timeline_for,
)
from incidents.serializers import (
    AssignSerializer,
    BodySerializer,
    CloseSerializer,
    DeadlineMetSerializer,
    DeclareMajorSerializer,
    EmptySerializer,
    EscalateSerializer,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    OutboundMessageSerializer,
    PrioritiseSerializer,
    ReasonSerializer,
    ResolveSerializer,
    TimelineEventSerializer,
)
from skills.errors import Forbidden
from skills.permissions import Policy
from skills.policy import Action, can, why_not


def _action(name, serializer_class, service, policy_action, url_path=None):
    """A POST /incidents/{reference}/<action>/ endpoint calling `service`. The policy is
    asked first so that a refused person gets 403 whatever the body; the service asks again."""

    def endpoint(self, request, reference=None):
        incident = self.get_object()
        if not can(request.user, policy_action, incident):
            raise Forbidden(why_not(request.user, policy_action, incident))
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        service(actor=request.user, incident=incident, **serializer.validated_data)
        return Response(IncidentDetailSerializer(self._reload(incident)).data)

    endpoint.__name__ = name
    endpoint.__doc__ = service.__doc__
    schema = extend_schema(request=serializer_class, responses=IncidentDetailSerializer)
    return action(detail=True, methods=["post"], url_path=url_path)(schema(endpoint))


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("ordering", str, enum=["created_at", "-created_at", "priority", "-priority",
                                                    "resolve_due_at", "-resolve_due_at"]),
            OpenApiParameter("page_size", int, description="1 to 100; 25 by default."),
        ]
    ),
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
            Incident.objects.select_related(*LIST_RELATED)
            .prefetch_related(*list_prefetches(), "tasks__done_by", "deadlines__met_by")
            .get(pk=incident.pk)
        )

    def retrieve(self, request, reference=None):
        return Response(IncidentDetailSerializer(self._reload(self.get_object())).data)

    def create(self, request):
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_register(actor=request.user, **serializer.validated_data)
        return Response(IncidentDetailSerializer(self._reload(incident)).data, status=status.HTTP_201_CREATED)

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

    assign = _action("assign", AssignSerializer, services.incident_assign, Action.ALLOCATE_TEAM)
    acknowledge = _action("acknowledge", EmptySerializer, services.incident_acknowledge, Action.ACKNOWLEDGE)
    start = _action("start", EmptySerializer, services.incident_start, Action.START)
    hold = _action("hold", ReasonSerializer, services.incident_hold, Action.HOLD)
    resume = _action("resume", EmptySerializer, services.incident_resume, Action.RESUME)
    prioritise = _action("prioritise", PrioritiseSerializer, services.incident_prioritise, Action.PRIORITISE)
    escalate = _action("escalate", EscalateSerializer, services.incident_escalate, Action.ESCALATE)
    resolve = _action("resolve", ResolveSerializer, services.incident_resolve, Action.RESOLVE)
    close = _action("close", CloseSerializer, services.incident_close, Action.CLOSE)
    reopen = _action("reopen", ReasonSerializer, services.incident_reopen, Action.REOPEN)
    cancel = _action("cancel", ReasonSerializer, services.incident_cancel, Action.CANCEL)
    declare_major = _action("declare_major", DeclareMajorSerializer, services.incident_declare_major, Action.DECLARE_MAJOR, "declare-major")
    notes = _action("notes", BodySerializer, services.incident_add_note, Action.NOTE)
    updates = _action("updates", BodySerializer, services.incident_add_public_update, Action.PUBLIC_UPDATE)

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

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post", "delete"])
    def watch(self, request, reference=None):
        """POST: follow the incident's public progress by email; DELETE: stop."""
        incident = self.get_object()
        services.incident_watch(actor=request.user, incident=incident, watching=request.method == "POST")
        return Response(IncidentDetailSerializer(self._reload(incident)).data)


class OutboxViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The outbox, for level 4 and up: `?state=failed` lists what failed for good."""

    serializer_class = OutboundMessageSerializer
    permission_classes = [Policy]
    policy = {"list": Action.VIEW_OUTBOX}
    pagination_class = KeysetPagination
    ordering_fields = ("created_at",)
    default_ordering = "-created_at"

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
