from django.conf import settings
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    """Where an incident comes from; routing rules may match on it."""

    WEB = "web", "Web"
    EMAIL = "email", "Email"
    API = "api", "API"
    ALERT = "alert", "Monitoring alert"
    PHONE = "phone", "Phone"
    WALK_IN = "walk_in", "Walk-in"
    CHAT = "chat", "Chat"


class Level(models.IntegerChoices):
    """Impact and urgency: 1 is the highest."""

    HIGH = 1, "1 High"
    MEDIUM = 2, "2 Medium"
    LOW = 3, "3 Low"


class IncidentClass(models.TextChoices):
    MAJOR = "major", "Major incident"
    SECURITY = "security", "Information or cyber security incident"
    COMPLEX = "complex", "Complex incident"
    STANDARD = "standard", "Standard incident"
    LOW_IMPACT = "low_impact", "Low-impact incident"


class Calendar(models.Model):
    """When the SLA clocks run. No working hours means around the clock (24x7)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    around_the_clock = models.BooleanField(default=False, help_text="24x7: every second counts.")
    working_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per weekday, in the calendar\'s time zone: {"mon": [["09:00", "17:00"]]}.',
    )
    holidays = models.JSONField(default=list, blank=True, help_text='Dates without working hours: ["2026-12-25"].')

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name

    @property
    def is_24x7(self):
        return self.around_the_clock

    def clean(self):
        from procedures import validation

        validation.clean_timezone(self.timezone)
        self.working_hours = validation.clean_working_hours(self.working_hours, self.around_the_clock)
        self.holidays = validation.clean_holidays(self.holidays)


class Service(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_services"
    )
    is_critical = models.BooleanField(default=False)
    # Shown on the public status page (/status/); level 4 decides.
    is_public = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Procedure(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    incident_class = models.CharField(max_length=20, choices=IncidentClass.choices)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name


class Category(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="categories")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class ProcedureVersion(models.Model):
    """One version of a procedure. Level 4 drafts, level 5 publishes; an incident keeps
    the version it started under."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    team = models.ForeignKey("skills.Team", on_delete=models.PROTECT, related_name="+")
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="+")
    # {"1": {"response": 900, "resolution": 14400}, ... "5": {...}}, in seconds.
    sla_targets = models.JSONField()
    escalation = models.JSONField(default=list, blank=True)
    checklist = models.JSONField(default=list, blank=True)
    # Minimum SFIA level per action where it differs from the default table.
    action_levels = models.JSONField(default=dict, blank=True)
    # Ordered, first match wins; no match: `team`.
    routing_rules = models.JSONField(default=list, blank=True)
    # Named deadlines from detection, e.g. a regulator's 72 hours.
    deadlines = models.JSONField(default=list, blank=True)
    warning_percent = models.PositiveSmallIntegerField(
        default=75, help_text="A clock turns to warning past this share of its target."
    )
    # Major incidents: seconds between stakeholder updates, per priority ({"1": 1800, ...}).
    update_cadence = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["procedure", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["procedure", "number"], name="procedure_version_number_unique"),
            models.UniqueConstraint(
                fields=["procedure"], condition=Q(state="published"), name="one_published_version"
            ),
            models.UniqueConstraint(fields=["procedure"], condition=Q(state="draft"), name="one_draft_version"),
        ]

    def __str__(self):
        return f"{self.procedure.slug} v{self.number} ({self.state})"

    @property
    def is_security(self):
        return self.procedure.incident_class == IncidentClass.SECURITY

    @property
    def is_restricted(self):
        return self.is_security

    def targets_for(self, priority):
        target = self.sla_targets[str(priority)]
        return int(target["response"]), int(target["resolution"])


class PriorityMatrix(models.Model):
    """Priority from impact x urgency. One row; level 5 changes it."""

    matrix = models.JSONField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "priority matrix"

    def __str__(self):
        return "Priority matrix"


class ProcedureChange(models.Model):
    """The history of a procedure: who changed what, when."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        DRAFTED = "drafted", "Draft started"
        EDITED = "edited", "Draft edited"
        PUBLISHED = "published", "Published"

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="changes")
    version = models.ForeignKey(ProcedureVersion, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # {field: {"before": ..., "after": ...}}
    diff = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["procedure", "at"], name="procedure_change_at")]

    def __str__(self):
        return f"{self.procedure.slug} v{self.version.number} {self.kind}"


class LabelRule(models.Model):
    """How an inbound alert's labels become an incident's fields: when the label `label`
    has the value `value` ("*" for any value), set whichever of category, service, impact
    and urgency the rule names. Rules are read in order (position, then slug); for each
    field the first matching rule that sets it wins."""

    ANY = "*"

    slug = models.SlugField(unique=True)
    position = models.PositiveSmallIntegerField(default=100)
    label = models.CharField(max_length=100)
    value = models.CharField(max_length=200)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    impact = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self):
        return f"{self.label}={self.value}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if not (self.category_id or self.service_id or self.impact or self.urgency):
            raise ValidationError({"category": ["A rule sets at least one of category, service, impact, urgency."]})

    def matches(self, labels):
        have = labels.get(self.label)
        return have is not None and (self.value == self.ANY or have == self.value)


class ConfigStamp(models.Model):
    """One row whose value a database trigger replaces whenever a configuration table is
    written (procedures.config_cache): processes compare it to know their copy is stale."""

    value = models.CharField(max_length=64)

    class Meta:
        verbose_name = "configuration stamp"

    def __str__(self):
        return self.value
