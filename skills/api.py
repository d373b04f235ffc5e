"""Configuration API building blocks, and the teams endpoint."""

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from skills import services
from skills.api_fields import JSONModelSerializer
from skills.models import Team
from skills.permissions import Policy, TokenScope
from skills.policy import Action

READ = {"list": Action.VIEW_CONFIGURATION, "retrieve": Action.VIEW_CONFIGURATION}


class ConfigViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List, read, create and change by slug; `save` is the service that writes."""

    lookup_field = "slug"
    permission_classes = [TokenScope, Policy]
    policy = {**READ, "create": Action.MANAGE_CONFIGURATION, "partial_update": Action.MANAGE_CONFIGURATION}
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = None
    save = None

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = type(self).save(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, slug=None):
        obj = self.get_object()
        serializer = self.get_serializer(obj, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        obj = type(self).save(actor=request.user, **{self.noun: obj}, **serializer.validated_data)
        return Response(self.get_serializer(obj).data)


class TeamSerializer(JSONModelSerializer):
    members = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "email", "is_security", "members"]


class TeamViewSet(ConfigViewSet):
    queryset = Team.objects.prefetch_related("members").order_by("slug")
    serializer_class = TeamSerializer
    save = staticmethod(services.team_save)
    noun = "team"
