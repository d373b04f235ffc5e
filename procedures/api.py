"""Configuration API: categories, services, teams, calendars, procedures and the priority
matrix. Readable by staff; written at the levels of the policy, through services."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from procedures import services
from procedures.models import Calendar, Category, LabelRule, Procedure, ProcedureChange, Service
from procedures.selectors import priority_matrix
from procedures.serializers import (
    CalendarSerializer,
    CategorySerializer,
    ChangeSerializer,
    LabelRuleSerializer,
    PriorityMatrixSerializer,
    ProcedureCreateSerializer,
    ProcedureSerializer,
    ProcedureUpdateSerializer,
    ServiceSerializer,
    SimulateSerializer,
    SimulationResultSerializer,
)
from procedures.simulate import procedure_simulate
from skills.api import READ, ConfigViewSet
from skills.permissions import Policy, TokenScope
from skills.policy import Action


class CategoryViewSet(ConfigViewSet):
    queryset = Category.objects.select_related("procedure").order_by("slug")
    serializer_class = CategorySerializer
    save = staticmethod(services.category_save)
    noun = "category"


class ServiceViewSet(ConfigViewSet):
    queryset = Service.objects.select_related("owner").order_by("slug")
    serializer_class = ServiceSerializer
    save = staticmethod(services.service_save)
    noun = "service"


class LabelRuleViewSet(ConfigViewSet):
    """How inbound alerts' labels set an incident's category, service, impact, urgency."""

    queryset = LabelRule.objects.select_related("category", "service").order_by("position", "slug")
    serializer_class = LabelRuleSerializer
    save = staticmethod(services.label_rule_save)
    noun = "label_rule"


class CalendarViewSet(ConfigViewSet):
    queryset = Calendar.objects.order_by("slug")
    serializer_class = CalendarSerializer
    policy = {**READ, "create": Action.SET_POLICY, "partial_update": Action.SET_POLICY}
    save = staticmethod(services.calendar_save)
    noun = "calendar"


class ProcedureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Procedure.objects.prefetch_related(
        "categories", "versions__team", "versions__calendar"
    ).order_by("slug")
    serializer_class = ProcedureSerializer
    lookup_field = "slug"
    pagination_class = None
    permission_classes = [TokenScope, Policy]
    http_method_names = ["get", "post", "patch", "head", "options"]
    policy = {
        **READ,
        "history": Action.VIEW_CONFIGURATION,
        "create": Action.DRAFT_PROCEDURE,
        "partial_update": Action.DRAFT_PROCEDURE,
        "simulate": Action.DRAFT_PROCEDURE,
        "publish": Action.PUBLISH_PROCEDURE,
    }

    def _fresh(self, procedure):
        return self.get_queryset().get(pk=procedure.pk)

    @extend_schema(request=ProcedureCreateSerializer, responses={201: ProcedureSerializer})
    def create(self, request):
        serializer = ProcedureCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        procedure = services.procedure_create(actor=request.user, **serializer.validated_data)
        return Response(ProcedureSerializer(self._fresh(procedure)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProcedureUpdateSerializer, responses=ProcedureSerializer)
    def partial_update(self, request, slug=None):
        """Make or change the draft version; the published version stays in force."""
        procedure = self.get_object()
        serializer = ProcedureUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.procedure_edit(actor=request.user, procedure=procedure, **serializer.validated_data)
        return Response(ProcedureSerializer(self._fresh(procedure)).data)

    @extend_schema(request=None, responses=ProcedureSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, slug=None):
        """Put the draft in force for new incidents (level 5)."""
        procedure = self.get_object()
        services.procedure_publish(actor=request.user, procedure=procedure)
        return Response(ProcedureSerializer(self._fresh(procedure)).data)

    @extend_schema(request=SimulateSerializer, responses=SimulationResultSerializer)
    @action(detail=True, methods=["post"])
    def simulate(self, request, slug=None):
        """A dry run of the draft (else the published version) on a sample incident. Changes nothing."""
        procedure = self.get_object()
        serializer = SimulateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sample = dict(serializer.validated_data)
        at = sample.pop("at", None) or timezone.now()
        result = procedure_simulate(actor=request.user, procedure=procedure, sample=sample, at=at)
        return Response(SimulationResultSerializer(result).data)

    @extend_schema(responses=ChangeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, slug=None):
        """Who changed what and when, oldest first."""
        procedure = self.get_object()
        changes = ProcedureChange.objects.filter(procedure=procedure).select_related("actor", "version")
        return Response(ChangeSerializer(changes, many=True).data)


class PriorityMatrixView(APIView):
    """GET the impact x urgency matrix in force; PUT a new one (level 5)."""

    permission_classes = [TokenScope, Policy]
    policy = {"get": Action.VIEW_CONFIGURATION, "put": Action.SET_POLICY}

    def initial(self, request, *args, **kwargs):
        self.action = request.method.lower()
        super().initial(request, *args, **kwargs)

    def _body(self):
        matrix = priority_matrix()
        return {"matrix": {str(i): {str(u): matrix[(i, u)] for u in (1, 2, 3)} for i in (1, 2, 3)}}

    @extend_schema(responses=PriorityMatrixSerializer)
    def get(self, request):
        return Response(self._body())

    @extend_schema(request=PriorityMatrixSerializer, responses=PriorityMatrixSerializer)
    def put(self, request):
        serializer = PriorityMatrixSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.priority_matrix_set(actor=request.user, matrix=serializer.validated_data["matrix"])
        return Response(self._body())


