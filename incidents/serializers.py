from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from incidents import clocks, errors
from incidents.models import (
    Attachment,
    Incident,
    IncidentDeadline,
    IncidentTask,
    Level,
    TimelineEvent,
)
from procedures import limits
from procedures.models import Category, Service
from procedures.serializers import ConfigSlugRelatedField, IncidentSampleSerializer
from skills.api_fields import JSONSerializer
from skills.models import Person, Role, Team


class PlainRepresentation:
    """`to_representation` without DRF's per-field machinery, for pages of many rows: how
    to read each field is worked out once per serializer class (DRF would build and copy
    every field for every request), values are read by attribute, and ISO 8601 times are
    formatted in the current time zone fetched once per serializer rather than once per
    value. The output is DRF's own, byte for byte (tests/incidents/test_serializers_plain.py
    compares them)."""

    _plain_recipes = {}  # serializer class -> [(name, kind, detail)]

    @classmethod
    def _recipe(cls, fields):
        recipe = PlainRepresentation._plain_recipes.get(cls)
        if recipe is None:
            recipe = PlainRepresentation._plain_recipes[cls] = [
                (name, *cls._kind(field)) for name, field in fields.items() if not field.write_only
            ]
        return recipe

    @staticmethod
    def _kind(field):
        if isinstance(field, serializers.SerializerMethodField):
            return "method", field.method_name
        if isinstance(field, (serializers.BaseSerializer, serializers.ManyRelatedField)) or field.source == "*":
            return "field", None  # nested: DRF's own, from this serializer's bound field
        attrs = tuple(field.source_attrs)
        if isinstance(field, serializers.SlugRelatedField):
            return "attrs", ((*attrs, field.slug_field), None)
        if (
            isinstance(field, serializers.DateTimeField)
            and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
            and not hasattr(field, "timezone")
        ):
            return "datetime", (attrs, field)
        if isinstance(field, _STATELESS):
            return "attrs", (attrs, field.to_representation)
        return "field", None  # anything else (context, request): DRF's own

    def _readers(self):
        readers = getattr(self, "_plain_readers", None)
        if readers is None:
            recipe = PlainRepresentation._plain_recipes.get(type(self)) or self._recipe(self.fields)
            readers = self._plain_readers = [(name, self._reader(name, kind, detail)) for name, kind, detail in recipe]
        return readers

    def _reader(self, name, kind, detail):
        if kind == "method":
            return getattr(self, detail)
        if kind == "field":
            field = self.fields[name]
            return lambda instance: field.to_representation(field.get_attribute(instance))
        if kind == "datetime":
            attrs, field = detail
            zone = field.default_timezone()
            represent = _iso_in(zone) if zone is not None else field.to_representation
        else:
            attrs, represent = detail

        def read(instance):
            value = instance
            for attr in attrs:
                value = getattr(value, attr)
                if value is None:
                    return None
            return value if represent is None else represent(value)

        return read

    def to_representation(self, instance):
        return {name: read(instance) for name, read in self._readers()}


# Fields whose to_representation depends on the value alone, so one field's may serve
# every serializer of the class.
_STATELESS = (
    serializers.BooleanField, serializers.CharField, serializers.ChoiceField, serializers.FloatField,
    serializers.IntegerField, serializers.ReadOnlyField,
)  # fmt: skip


def _iso_in(zone):
    def represent(value):
        if isinstance(value, str) or not timezone.is_aware(value):
            return serializers.DateTimeField().to_representation(value)  # DRF's own path
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return represent


class IncidentSerializer(PlainRepresentation, serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    procedure = serializers.CharField(source="procedure_version.procedure.slug", read_only=True)
    procedure_version = serializers.IntegerField(source="procedure_version.number", read_only=True)
    response_clock = serializers.SerializerMethodField()
    resolution_clock = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "reference", "title", "description", "status", "category", "service", "impact", "urgency",
            "priority", "team", "assignee", "reporter", "channel", "is_major", "is_security", "procedure",
            "procedure_version", "escalation_level", "response_due_at", "resolve_due_at", "response_warn_at",
            "resolve_warn_at", "response_clock", "resolution_clock", "acknowledged_at",
            "resolved_at", "closed_at", "response_breached", "resolution_breached", "resolution_code",
            "resolution_notes", "cause", "is_public", "public_id", "public_title", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _now(self):
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return self.context["now"]

    def get_response_clock(self, incident) -> str:
        return clocks.response_clock(incident, self._now())

    def get_resolution_clock(self, incident) -> str:
        return clocks.resolution_clock(incident, self._now())


class TaskSerializer(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentTask
        fields = ["position", "title", "mandatory", "done_at", "done_by"]


class DeadlineSerializer(serializers.ModelSerializer):
    met_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentDeadline
        fields = ["id", "name", "due_at", "met_at", "met_by", "breached"]


class IncidentDetailSerializer(IncidentSerializer):
    """The detail view adds the checklist, the named deadlines and the escalation policy."""

    tasks = TaskSerializer(many=True, read_only=True)
    deadlines = DeadlineSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "escalation_policy", "tasks", "deadlines"]
        read_only_fields = fields


def _category_field():
    return ConfigSlugRelatedField(queryset=Category.objects.all())


def _service_field(**kwargs):
    return ConfigSlugRelatedField(queryset=Service.objects.all(), **kwargs)


class IncidentCreateSerializer(IncidentSampleSerializer):
    """The create body: what registers an incident, and whom it is for (staff only)."""

    reporter = serializers.SlugRelatedField(
        slug_field="username", queryset=Person.objects.filter(is_active=True), required=False, allow_null=True, default=None
    )


class IncidentUpdateSerializer(JSONSerializer):
    title = serializers.CharField(max_length=limits.TITLE_MAX, required=False)
    description = serializers.CharField(max_length=limits.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False)
    category = _category_field()
    service = _service_field(required=False, allow_null=True)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].required = False

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in sorted(unknown)}
            )
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Nothing to change."]})
        return attrs


class AssignSerializer(JSONSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False)
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=Person.objects.filter(role=Role.STAFF, is_active=True), required=False
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": ["Give a team, an assignee or both."]})
        return attrs


class EmptySerializer(JSONSerializer):
    pass


class ReasonSerializer(JSONSerializer):
    reason = serializers.CharField(max_length=limits.REASON_MAX)


class PrioritiseSerializer(ReasonSerializer):
    priority = serializers.ChoiceField(choices=[(p, f"P{p}") for p in range(1, 6)])


class EscalateSerializer(ReasonSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False)


class ResolveSerializer(JSONSerializer):
    resolution_code = serializers.CharField(max_length=limits.RESOLUTION_CODE_MAX)
    resolution_notes = serializers.CharField(max_length=limits.TEXT_MAX)
    cause = serializers.CharField(max_length=limits.TEXT_MAX, required=False, default="", allow_blank=True)


class DeclareMajorSerializer(ReasonSerializer):
    comms_lead = serializers.SlugRelatedField(
        slug_field="username", queryset=Person.objects.filter(role=Role.STAFF, is_active=True), required=False
    )


class CloseSerializer(JSONSerializer):
    override_reason = serializers.CharField(max_length=limits.REASON_MAX, required=False, default="")


class DeadlineMetSerializer(JSONSerializer):
    note = serializers.CharField(max_length=limits.REASON_MAX, required=False, default="", allow_blank=True)


class PublishSerializer(JSONSerializer):
    public = serializers.BooleanField()
    public_title = serializers.CharField(max_length=limits.TITLE_MAX, required=False, allow_blank=True, default="")


class BodySerializer(JSONSerializer):
    body = serializers.CharField(max_length=limits.TEXT_MAX, trim_whitespace=False)


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TimelineEvent
        fields = ["at", "actor", "kind", "data", "is_public"]


class OutboundMessageSerializer(serializers.ModelSerializer):
    """`to` and `last_error` mask a webhook's address below level 5 (the view passes
    `shows_webhooks` in the context: `incidents.presenters.sees_webhook_urls`)."""

    incident = serializers.SerializerMethodField()
    to = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField()

    class Meta:
        from incidents.models import OutboundMessage

        model = OutboundMessage
        fields = ["id", "incident", "channel", "to", "subject", "state", "attempts", "next_attempt_at",
                  "last_error", "created_at", "sent_at"]  # fmt: skip

    def get_incident(self, message) -> str | None:
        return f"INC-{message.incident_id:06d}" if message.incident_id else None

    def get_to(self, message) -> str:
        from incidents.presenters import message_address

        return message_address(message, self.context.get("shows_webhooks", False))

    def get_last_error(self, message) -> str:
        from incidents.presenters import message_error

        return message_error(message, self.context.get("shows_webhooks", False))


class AttachmentSerializer(serializers.ModelSerializer):
    """An attachment as listed: `download_url` only once it is available (scanned)."""

    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "declared_type", "sha256", "state", "rejection", "channel",
                  "uploaded_by", "created_at", "scanned_at", "download_url"]  # fmt: skip

    def get_download_url(self, attachment) -> str | None:
        if attachment.state != Attachment.State.AVAILABLE:
            return None
        from django.urls import reverse

        incident = self.context.get("incident") or attachment.incident
        url = reverse("incident-attachment-download", args=[incident.reference, attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class AttachmentUploadSerializer(serializers.Serializer):
    """`file`: the file (multipart/form-data)."""

    file = serializers.FileField(allow_empty_file=True, error_messages={"required": errors.NO_FILE})
