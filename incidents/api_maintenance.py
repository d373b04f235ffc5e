"""Scheduled maintenance windows: staff read them; level 4 announces, edits and cancels,
through incidents.maintenance (the policy's `manage_maintenance`)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents import maintenance
from incidents.models import MaintenanceWindow
from skills.api import READ
from skills.permissions import Policy, TokenScope
from skills.policy import Action


class MaintenanceSerializer(serializers.ModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id", "public_id", "title", "description", "services", "starts_at", "ends_at", "status", "created_by",
            "created_at", "updated_at", "cancelled_at", "started_at", "ended_at",
        ]  # fmt: skip

    def get_status(self, window) -> str:
        if window.cancelled_at:
            return "cancelled"
        if window.ended_at:
            return "completed"
        return "in_progress" if window.started_at else "scheduled"


class MaintenanceWriteSerializer(serializers.Serializer):
    """Shapes only; the service checks the rules (end after start, not in the past,
    public services) and answers 400 by field."""

    title = serializers.CharField(max_length=maintenance.TITLE_MAX)
    description = serializers.CharField(max_length=maintenance.DESCRIPTION_MAX, required=False, allow_blank=True)
    services = serializers.ListField(child=serializers.SlugField(), allow_empty=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class MaintenanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = MaintenanceWindow.objects.select_related("created_by").prefetch_related(
        "services"
    ).order_by("-starts_at", "-pk")  # fmt: skip
    serializer_class = MaintenanceSerializer
    permission_classes = [TokenScope, Policy]
    policy = {
        **READ, "create": Action.MANAGE_MAINTENANCE, "partial_update": Action.MANAGE_MAINTENANCE,
        "cancel": Action.MANAGE_MAINTENANCE,
    }  # fmt: skip
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _answer(self, window, code=status.HTTP_200_OK):
        return Response(MaintenanceSerializer(self.get_queryset().get(pk=window.pk)).data, status=code)

    @extend_schema(request=MaintenanceWriteSerializer, responses={201: MaintenanceSerializer})
    def create(self, request):
        serializer = MaintenanceWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        window = maintenance.maintenance_announce(actor=request.user, **serializer.validated_data)
        return self._answer(window, status.HTTP_201_CREATED)

    @extend_schema(request=MaintenanceWriteSerializer, responses=MaintenanceSerializer)
    def partial_update(self, request, pk=None):
        window = self.get_object()
        serializer = MaintenanceWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        window = maintenance.maintenance_edit(actor=request.user, window=window, **serializer.validated_data)
        return self._answer(window)

    @extend_schema(request=None, responses=MaintenanceSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        window = maintenance.maintenance_cancel(actor=request.user, window=self.get_object())
        return self._answer(window)


