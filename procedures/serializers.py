from rest_framework import serializers

from procedures import config_cache
from procedures.limits import TEXT_MAX, TITLE_MAX
from procedures.models import (
    Calendar,
    Category,
    Channel,
    IncidentClass,
    LabelRule,
    Level,
    Procedure,
    ProcedureChange,
    ProcedureVersion,
    Service,
)
from skills.api_fields import JSONModelSerializer, JSONSerializer
from skills.models import Person, Team

VERSION_FIELDS = [
    "version", "state", "team", "calendar", "sla_targets", "escalation", "checklist", "action_levels",
    "routing_rules", "deadlines", "warning_percent", "published_at",
]  # fmt: skip


class VersionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="number", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    calendar = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ProcedureVersion
        fields = VERSION_FIELDS
        read_only_fields = fields


class ProcedureSerializer(VersionSerializer):
    """The published version's fields at the top level (what is in force), and the draft."""

    slug = serializers.SlugField()
    name = serializers.CharField()
    incident_class = serializers.ChoiceField(choices=IncidentClass.choices)
    categories = serializers.ListField(child=serializers.SlugField())
    draft = VersionSerializer(allow_null=True)

    class Meta(VersionSerializer.Meta):
        fields = ["slug", "name", "incident_class", "categories", *VERSION_FIELDS, "draft"]
        read_only_fields = fields

    def _versions(self, procedure):
        return {v.state: v for v in procedure.versions.all()}

    def to_representation(self, procedure):
        versions = self._versions(procedure)
        shown = versions.get(ProcedureVersion.State.PUBLISHED) or versions.get(ProcedureVersion.State.DRAFT)
        data = {
            "slug": procedure.slug,
            "name": procedure.name,
            "incident_class": procedure.incident_class,
            "categories": sorted(c.slug for c in procedure.categories.all()),
        }
        data |= VersionSerializer(shown).data if shown else dict.fromkeys(VERSION_FIELDS)
        draft = versions.get(ProcedureVersion.State.DRAFT)
        data["draft"] = VersionSerializer(draft).data if draft and draft is not shown else None
        return data


class _VersionInput(JSONSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False)
    calendar = serializers.SlugRelatedField(slug_field="slug", queryset=Calendar.objects.all(), required=False)
    sla_targets = serializers.JSONField(required=False)
    escalation = serializers.JSONField(required=False)
    checklist = serializers.JSONField(required=False)
    action_levels = serializers.JSONField(required=False)
    routing_rules = serializers.JSONField(required=False)
    deadlines = serializers.JSONField(required=False)
    warning_percent = serializers.IntegerField(required=False, min_value=1, max_value=99)
    unknown_fields = False


class ProcedureCreateSerializer(_VersionInput):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100)
    incident_class = serializers.ChoiceField(choices=IncidentClass.choices)
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    calendar = serializers.SlugRelatedField(slug_field="slug", queryset=Calendar.objects.all())


class ProcedureUpdateSerializer(_VersionInput):
    name = serializers.CharField(max_length=100, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Nothing to change."]})
        return attrs


class ConfigSlugRelatedField(serializers.SlugRelatedField):
    """A category, service or team by slug, from the configuration cache (no query); the
    queryset still names the choices (the schema, the browsable API). Errors as DRF's."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        found = config_cache.by_slug(self.get_queryset().model, data)
        if found is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return found


class IncidentSampleSerializer(JSONSerializer):
    """What an incident is registered with: the create body of the incidents API (which adds
    the reporter) and the sample of a dry run."""

    title = serializers.CharField(max_length=TITLE_MAX)
    description = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, required=False, default="", trim_whitespace=False)
    category = ConfigSlugRelatedField(queryset=Category.objects.all())
    service = ConfigSlugRelatedField(queryset=Service.objects.all(), required=False, allow_null=True, default=None)
    impact = serializers.ChoiceField(choices=Level.choices)
    urgency = serializers.ChoiceField(choices=Level.choices)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.API)


class SimulateSerializer(IncidentSampleSerializer):
    """The create body of an incident, with `at` (when it would arrive); a sample need not
    have a title, and the category defaults to the procedure's first."""

    title = serializers.CharField(max_length=TITLE_MAX, required=False, default="")
    category = ConfigSlugRelatedField(queryset=Category.objects.all(), required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.WEB)
    at = serializers.DateTimeField(required=False)


class SimulationResultSerializer(serializers.Serializer):
    procedure = serializers.CharField()
    version = serializers.IntegerField()
    state = serializers.CharField()
    at = serializers.DateTimeField()
    team = serializers.CharField()
    rule = serializers.CharField()
    impact = serializers.IntegerField()
    priority = serializers.IntegerField()
    calendar = serializers.CharField()
    response_due_at = serializers.DateTimeField()
    resolve_due_at = serializers.DateTimeField()
    response_warn_at = serializers.DateTimeField()
    resolve_warn_at = serializers.DateTimeField()
    escalation = serializers.ListField(child=serializers.DictField())
    tasks = serializers.ListField(child=serializers.DictField())
    deadlines = serializers.ListField(child=serializers.DictField())
    messages = serializers.ListField(child=serializers.DictField())
    restricted = serializers.BooleanField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for key in ("escalation", "messages", "deadlines"):
            for item in data[key]:
                for name in ("at", "due_at"):
                    if name in item and hasattr(item[name], "isoformat"):
                        item[name] = serializers.DateTimeField().to_representation(item[name])
        return data


class ChangeSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    version = serializers.IntegerField(source="version.number")
    summary = serializers.SerializerMethodField()

    class Meta:
        model = ProcedureChange
        fields = ["at", "actor", "version", "kind", "diff", "summary"]

    def get_summary(self, change) -> list[str]:
        lines = []
        for field, values in change.diff.items():
            if "before" in values:
                lines.append(f"{field}: {values['before']!r} → {values['after']!r}")
            else:
                lines.append(f"{field}: {values['after']!r}")
        return lines


class CategorySerializer(JSONModelSerializer):
    procedure = serializers.SlugRelatedField(slug_field="slug", queryset=Procedure.objects.all())

    class Meta:
        model = Category
        fields = ["slug", "name", "procedure"]


class ServiceSerializer(JSONModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=Person.objects.filter(is_active=True), required=False, allow_null=True
    )

    class Meta:
        model = Service
        fields = ["slug", "name", "owner", "is_critical", "is_public"]


class CalendarSerializer(JSONModelSerializer):
    class Meta:
        model = Calendar
        fields = ["slug", "name", "timezone", "around_the_clock", "working_hours", "holidays"]


class PriorityMatrixSerializer(JSONSerializer):
    matrix = serializers.JSONField()


class LabelRuleSerializer(JSONModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True)
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True)

    class Meta:
        model = LabelRule
        fields = ["slug", "position", "label", "value", "category", "service", "impact", "urgency"]
