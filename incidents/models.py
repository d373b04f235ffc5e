import re

from django.conf import settings
from django.db import models
from django.db.models import Q

from procedures.models import Channel, Level

REFERENCE_RE = re.compile(r"^INC-(\d{6,})$")


class Status(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD)
OPEN_Q = Q(status__in=OPEN_STATUSES)
# Open and not on hold: the clocks run and timers fire.
ACTIVE_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS)
# What the covering indexes of open incidents carry besides their key: every column the
# queue's filters (and the visibility wall), its counts and the dashboard's figures read.
OPEN_COVER = [
    "status", "team", "priority", "assignee", "category", "service", "is_security", "is_major",
    "response_breached", "resolution_breached", "acknowledged_at", "response_warn_at", "resolve_warn_at",
]  # fmt: skip


# The columns the metrics' backlog reads besides the times (reporting.metrics).
BACKLOG_COLUMNS = (
    "id", "team", "category", "service", "priority", "procedure_version", "channel", "resolved_level", "is_security",
)  # fmt: skip

# What reporting.percentiles reads beside a duration, and its index of each duration.
PERCENTILE_COVER = (
    "created_at", "status", "is_security", "team", "category", "service", "priority", "procedure_version", "channel",
    "resolved_level",
)  # fmt: skip
PERCENTILE_INDEXES = {
    "ack_seconds": "incident_pct_ack",
    "ack_working_seconds": "incident_pct_ack_working",
    "resolve_seconds": "incident_pct_resolve",
    "resolve_working_seconds": "incident_pct_resolve_working",
}


class Incident(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_incidents"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    category = models.ForeignKey("procedures.Category", on_delete=models.PROTECT, related_name="incidents")
    service = models.ForeignKey(
        "procedures.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    impact = models.PositiveSmallIntegerField(choices=Level.choices)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices)
    priority = models.PositiveSmallIntegerField()
    priority_overridden = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    team = models.ForeignKey("skills.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_incidents"
    )
    procedure_version = models.ForeignKey(
        "procedures.ProcedureVersion", on_delete=models.PROTECT, related_name="incidents"
    )
    is_major = models.BooleanField(default=False)
    is_security = models.BooleanField(default=False)
    # The clocks run around the clock whatever the procedure's calendar (a major incident).
    around_the_clock = models.BooleanField(default=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    response_due_at = models.DateTimeField()
    resolve_due_at = models.DateTimeField()
    # When each clock turns to warning (the procedure's share of the target).
    response_warn_at = models.DateTimeField()
    resolve_warn_at = models.DateTimeField()
    # The escalation policy as it was when the incident started: later edits never apply.
    escalation_policy = models.JSONField(default=list, blank=True)
    response_warned = models.BooleanField(default=False)
    resolution_warned = models.BooleanField(default=False)
    # The earliest moment a timer (warning, breach, escalation step, update reminder) is
    # due; the sweep claims incidents by it. None while on hold or closed.
    next_timer_at = models.DateTimeField(null=True, blank=True)
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="led_incidents"
    )
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    # Working seconds spent on hold, which move both due times on.
    held_seconds = models.PositiveIntegerField(default=0)
    on_hold_since = models.DateTimeField(null=True, blank=True)
    # The public status page: whether it shows this incident, under which id (random, so
    # it tells nothing of the reference or of counts) and title, and its public span.
    is_public = models.BooleanField(default=False)
    public_id = models.CharField(max_length=16, null=True, blank=True, unique=True)
    public_title = models.CharField(max_length=200, blank=True)
    public_started_at = models.DateTimeField(null=True, blank=True)
    public_ended_at = models.DateTimeField(null=True, blank=True)
    resolution_code = models.CharField(max_length=40, blank=True)
    resolution_notes = models.TextField(blank=True)
    cause = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Facts for the metrics, written by the services when each milestone happens (so a
    # year of figures is a scan of plain columns, never a walk of timelines).
    # Registered -> acknowledged and registered -> resolved, in wall-clock seconds and in
    # working seconds on the incident's calendar; working time leaves out time on hold.
    ack_seconds = models.PositiveIntegerField(null=True, blank=True)
    ack_working_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolve_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolve_working_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Resolved -> closed, wall-clock.
    close_seconds = models.PositiveIntegerField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    # Escalations (by hand or by the policy) and hand-overs to another team after routing.
    escalation_count = models.PositiveSmallIntegerField(default=0)
    team_changes = models.PositiveSmallIntegerField(default=0)
    # Who resolved it, at which SFIA level, and whether that was first-line (level 1-2,
    # never handed to another team): recorded at resolution.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_level = models.PositiveSmallIntegerField(null=True, blank=True)
    resolved_first_line = models.BooleanField(default=False)
    # The registration form's one-time token: a second submission of the same form finds
    # the incident the first one made (the unique index decides, not a read first).
    registration_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # Inbound monitoring: the source's key for this problem ("alertmanager:<fingerprint>",
    # "events:<dedup key>"), how many times the source has repeated it, and the incident
    # of the same key that came before (a new firing after closure).
    source_key = models.CharField(max_length=250, blank=True, default="")
    repeat_count = models.PositiveIntegerField(default=0)
    follows = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="followed_by"
    )

    class Meta:
        indexes = [
            # The default list: newest first, keyset on (created_at, id).
            models.Index(fields=["created_at", "id"], name="incident_created"),
            # Queues: open work by team, by person, unassigned; and every status filter.
            models.Index(fields=["team", "created_at", "id"], condition=OPEN_Q, name="incident_open_team"),
            models.Index(fields=["team", "status", "created_at", "id"], name="incident_team_status"),
            models.Index(fields=["assignee", "created_at", "id"], condition=OPEN_Q, name="incident_open_assignee"),
            models.Index(fields=["status", "created_at", "id"], name="incident_status"),
            models.Index(
                fields=["created_at", "id"], condition=OPEN_Q & Q(assignee__isnull=True), name="incident_unassigned"
            ),
            models.Index(fields=["priority", "id"], name="incident_priority"),
            # The queue's three sorts over open work (newest first, sort=due, sort=priority),
            # each carrying every column the queue's filters, its counts and the dashboard
            # read (OPEN_COVER): a page's ids, the counts per status and team and the
            # dashboard's team x priority table are index-only scans of ~30,000 narrow
            # entries at a million incidents instead of heap visits scattered over the table.
            models.Index(
                fields=["created_at", "id"], include=OPEN_COVER, condition=OPEN_Q, name="incident_open_created"
            ),
            models.Index(
                fields=["resolve_due_at", "id"], include=OPEN_COVER, condition=OPEN_Q, name="incident_open_due"
            ),
            models.Index(
                fields=["priority", "id"], include=[c for c in OPEN_COVER if c != "priority"], condition=OPEN_Q,
                name="incident_open_priority",
            ),
            # The same by status and team: the counts when a filter names statuses (at risk,
            # one status), where PostgreSQL would otherwise walk the full status index.
            models.Index(
                fields=["status", "team"], include=[c for c in OPEN_COVER if c not in ("status", "team")],
                condition=OPEN_Q, name="incident_open_status",
            ),
            # Major incidents in progress, oldest first (the dashboard): a handful of entries.
            models.Index(fields=["created_at", "id"], condition=OPEN_Q & Q(is_major=True), name="incident_open_major"),
            # Per team, the triage sorts straight off an index.
            models.Index(fields=["team", "resolve_due_at", "id"], condition=OPEN_Q, name="incident_open_team_due"),
            models.Index(fields=["team", "priority", "id"], condition=OPEN_Q, name="incident_open_team_priority"),
            # Live pages: the newest change is one index lookup (incidents.live).
            models.Index(fields=["updated_at"], name="incident_updated"),
            # The timer sweep: incidents whose next timer is due.
            models.Index(fields=["next_timer_at"], condition=Q(next_timer_at__isnull=False), name="incident_timer"),
            models.Index(fields=["resolve_due_at", "id"], name="incident_resolve_order"),
            # Breaching soon: open incidents by the moment their clock turns to warning.
            models.Index(
                fields=["resolve_warn_at"], condition=OPEN_Q & Q(resolution_breached=False), name="incident_resolve_warn"
            ),
            models.Index(fields=["reporter", "created_at", "id"], name="incident_reporter"),
            # Resolved major incidents: reporting opens their reviews from here.
            models.Index(fields=["resolved_at"], condition=Q(is_major=True), name="incident_major_resolved"),
            # Metrics: the backlog at a period's end (open now, or resolved after it), each
            # part an index-only scan: what the visibility filter and every grouping read
            # (is_security among them: the dashboard's resolved-per-day is index-only too).
            models.Index(fields=["resolved_at"], include=[*BACKLOG_COLUMNS, "created_at"], name="incident_resolved"),
            models.Index(
                fields=["created_at"], include=[*BACKLOG_COLUMNS, "closed_at"], condition=Q(resolved_at__isnull=True),
                name="incident_unresolved_created",
            ),
            # Metrics over a period: every column they read, so a year is an index-only scan
            # of a narrow index instead of a scan of the wide table.
            models.Index(
                fields=["created_at"],
                include=[
                    "id", "status", "team", "category", "service", "priority", "procedure_version", "channel",
                    "resolved_level", "is_security", "is_major", "response_breached", "resolution_breached",
                    "ack_seconds", "ack_working_seconds", "resolve_seconds", "resolve_working_seconds",
                    "escalation_count", "reopen_count", "resolved_first_line",
                ],
                name="incident_metrics",
            ),
            # The metrics' exact percentiles (reporting.percentiles): the values of one
            # duration between two bounds, with every column the period's cohort and the
            # groupings read, so a few buckets of a year are index-only range scans.
            *(
                models.Index(
                    fields=[column], include=PERCENTILE_COVER, condition=Q(**{f"{column}__isnull": False}), name=name
                )
                for column, name in PERCENTILE_INDEXES.items()
            ),
            # The last incident of a source key, open or not: a new firing links to it.
            models.Index(fields=["source_key", "created_at"], condition=~Q(source_key=""), name="incident_source_key"),
            # The status page: public incidents by service and public start (uptime bars too).
            models.Index(
                fields=["service", "public_started_at"], condition=Q(is_public=True), name="incident_public"
            ),
            # The status page's version stamp: the newest change of an incident that is or was
            # public (unpublishing moves it too), one backwards step (incidents.status).
            models.Index(
                fields=["updated_at"], condition=Q(public_id__isnull=False), name="incident_public_changed"
            ),
            # The uptime bars read every public span of the last 90 days from this index alone
            # (an index-only scan: public incidents are scattered over the whole table).
            models.Index(
                fields=["public_started_at"], include=["service", "public_ended_at", "is_major", "priority"],
                condition=Q(is_public=True, public_id__isnull=False), name="incident_public_spans",
            ),  # fmt: skip
            # Recently resolved public incidents, newest first.
            models.Index(fields=["public_ended_at"], condition=Q(is_public=True), name="incident_public_ended"),
            # Full-text search (PostgreSQL only): a generated column and its GIN index, migration 0003.
        ]
        constraints = [
            # One open incident per source key: concurrent deliveries of the same alert
            # (Alertmanager HA sends duplicates) meet here, not in a read-then-write.
            models.UniqueConstraint(
                fields=["source_key"], condition=OPEN_Q & ~Q(source_key=""), name="incident_open_source_key"
            ),
            models.CheckConstraint(name="priority_1_to_5", condition=Q(priority__gte=1, priority__lte=5)),
            models.CheckConstraint(name="impact_1_to_3", condition=Q(impact__gte=1, impact__lte=3)),
            models.CheckConstraint(name="urgency_1_to_3", condition=Q(urgency__gte=1, urgency__lte=3)),
            models.CheckConstraint(
                name="assigned_has_assignee", condition=~Q(status="assigned") | Q(assignee__isnull=False)
            ),
            models.CheckConstraint(
                name="on_hold_has_start", condition=~Q(status="on_hold") | Q(on_hold_since__isnull=False)
            ),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("incidents:detail", args=[self.reference])

    @property
    def reference(self):
        return self.reference_of(self.pk)

    @staticmethod
    def reference_of(pk):
        return f"INC-{pk:06d}"

    @staticmethod
    def pk_from_reference(reference):
        match = REFERENCE_RE.match(reference or "")
        return int(match.group(1)) if match else None

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def calendar(self):
        """The calendar its clocks run on: the procedure version's, or 24x7 once it is major."""
        from procedures.sla import AROUND_THE_CLOCK

        return AROUND_THE_CLOCK if self.around_the_clock else self.procedure_version.calendar


class TimelineEvent(models.Model):
    """Append-only: every change, note, update and notification of an incident."""

    class Kind(models.TextChoices):
        REGISTERED = "registered"
        ROUTED = "routed"
        EDITED = "edited"
        ASSIGNED = "assigned"
        ACKNOWLEDGED = "acknowledged"
        STARTED = "started"
        HELD = "held"
        RESUMED = "resumed"
        PRIORITISED = "prioritised"
        ESCALATED = "escalated"
        RESOLVED = "resolved"
        CLOSED = "closed"
        REOPENED = "reopened"
        CANCELLED = "cancelled"
        DECLARED_MAJOR = "declared_major"
        NOTE = "note"
        PUBLIC_UPDATE = "public_update"
        NOTIFIED = "notified"
        BREACHED = "breached"
        TASK_DONE = "task_done"
        DEADLINE_MET = "deadline_met"
        DEADLINE_MISSED = "deadline_missed"
        WARNING = "warning"
        UPDATE_DUE = "update_due"
        WATCHING = "watching"
        REVIEW_OPENED = "review_opened"
        REVIEW_CLOSED = "review_closed"
        LINKED = "linked"
        AFFECTED = "affected"
        COMMENT = "comment"
        CONFIRMED = "confirmed"
        SOURCE_REPEATED = "source_repeated"  # the monitor sent the same problem again
        SOURCE_RESOLVED = "source_resolved"  # the monitor says it is over; a person has it
        PUBLISHED = "published"
        ATTACHED = "attached"  # a file became visible (scanned, if a scanner is set)
        ATTACHMENT_REJECTED = "attachment_rejected"  # the scanner refused it: internal
        ATTACHMENT_REFUSED = "attachment_refused"  # an emailed file the upload rules refused: internal

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["incident", "at", "id"], name="timeline_incident")]

    def __str__(self):
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Timeline events are append-only.")


class IncidentLink(models.Model):
    """Two related incidents: one registered while the other was open, a cause and its
    symptoms. Recorded once per pair, from the incident that named the other."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="links_out")
    other = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="links_in")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "other"], name="link_once"),
            models.CheckConstraint(name="link_not_self", condition=~Q(incident=models.F("other"))),
        ]
        indexes = [models.Index(fields=["other"], name="link_other")]

    def __str__(self):
        return f"{self.incident_id} -> {self.other_id}"


class AffectedPerson(models.Model):
    """Someone else affected by an incident ("this is the same: add me as affected"):
    told of its public progress like the reporter."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="affected_by")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "person"], name="affected_once")]

    def __str__(self):
        return f"{self.person_id} affected by {self.incident_id}"


class IncidentTask(models.Model):
    """A step of the procedure's checklist, to be done on this incident."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    mandatory = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["incident", "position"]
        constraints = [models.UniqueConstraint(fields=["incident", "position"], name="task_position_unique")]

    def __str__(self):
        return self.title


class IncidentDeadline(models.Model):
    """A named deadline such as a regulator's notification window."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deadlines")
    name = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    met_at = models.DateTimeField(null=True, blank=True)
    met_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    remind_at = models.DateTimeField()
    reminded = models.BooleanField(default=False)
    breached = models.BooleanField(default=False)

    class Meta:
        ordering = ["incident", "due_at", "id"]
        indexes = [
            models.Index(
                fields=["remind_at"], condition=Q(met_at__isnull=True, breached=False), name="deadline_due"
            )
        ]

    def __str__(self):
        return self.name


class EscalationStepRun(models.Model):
    """One escalation step done on one incident: the unique key makes it happen once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="step_runs")
    step = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    action = models.CharField(max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "step"], name="step_once")]

    def __str__(self):
        return f"step {self.step} of incident {self.incident_id}"


class Watcher(models.Model):
    """A person who follows an incident's public progress."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="watchers")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watching")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "person"], name="watch_once")]

    def __str__(self):
        return f"{self.person} watches {self.incident_id}"


class ServiceSubscription(models.Model):
    """A stakeholder of a service: told of its major incidents (declaration, updates,
    resolution). Optional subscriptions carry an unsubscribe link."""

    service = models.ForeignKey("procedures.Service", on_delete=models.CASCADE, related_name="subscriptions")
    email = models.EmailField()
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    optional = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    # When it stopped: a fan-out posted before this moment still reaches the address.
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "email"], name="subscribe_once")]
        indexes = [
            models.Index(fields=["service"], condition=Q(active=True), name="subscription_active"),
            # Fan-out expansion walks a service's subscriptions by id, a batch at a time.
            models.Index(fields=["service", "id"], name="subscription_service_id"),
        ]

    def __str__(self):
        return f"{self.email} on {self.service_id}"


class WebhookSubscription(models.Model):
    """An outbound webhook: signed JSON for chat tools and other systems."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    # Event kinds to send (timeline kinds); empty means all public ones.
    events = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    include_security = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    def __str__(self):
        return self.name


class StatusSubscriber(models.Model):
    """Someone who subscribed on the public status page (double opt-in: the row exists only
    once the emailed link was followed). All public services, or the chosen ones."""

    email = models.EmailField(unique=True)
    all_services = models.BooleanField(default=True)
    services = models.ManyToManyField("procedures.Service", blank=True, related_name="status_subscribers")
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField()
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.email


class FanOut(models.Model):
    """One announcement (a declaration, a public update, a resolution) to an audience that
    may be large. The request writes this row; workers expand it into outbox rows a batch
    at a time (incidents.fanout). The audience is a snapshot: the few named recipients are
    listed here, the service's subscriptions are those active at `as_of`.

    A sweep's notice (an escalation, an SLA warning, a reminder: a few named recipients)
    is a FanOut too, written compact: no rendered message, only `facts` (its words and
    what it shows of the incident, as they stood when the sweep decided); the worker that
    expands it renders the message from them."""

    class Stage(models.IntegerChoices):
        DIRECT = 0, "Named recipients"
        SUBSCRIBERS = 1, "Service subscribers"
        STATUS_PAGE = 2, "Status page subscribers"
        DONE = 9, "Expanded"

    # An incident's news, or a maintenance window's (status page subscribers only).
    # The indexes each row costs are the ones its reads need (the sweeps write one per breach):
    # by incident, (incident, created_at) serves; maintenance and service only where set.
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="fanouts", db_index=False
    )
    maintenance = models.ForeignKey(
        "MaintenanceWindow", null=True, blank=True, on_delete=models.PROTECT, related_name="fanouts", db_index=False
    )
    event = models.ForeignKey(
        TimelineEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="fanouts"
    )
    # The effect: with an address it is each message's dedupe key.
    key = models.CharField(max_length=150)  # unique: Meta (a constraint, without a LIKE index nobody uses)
    headline = models.CharField(max_length=300)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    html = models.TextField(blank=True)
    # Where each recipient's footer (an unsubscribe link, or nothing) goes in body and html.
    marker = models.CharField(max_length=60)
    # [[email, subscription id or null], ...]: reporter, watchers, service owner.
    direct = models.JSONField(default=list, blank=True)
    service = models.ForeignKey(
        "procedures.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    subscribers = models.BooleanField(default=False)
    # Public incidents also reach the status page's subscribers, with public words only.
    status_page = models.BooleanField(default=False)
    public_subject = models.CharField(max_length=300, blank=True)
    public_body = models.TextField(blank=True)
    public_html = models.TextField(blank=True)
    public_thread = models.CharField(max_length=200, blank=True)
    as_of = models.DateTimeField()
    # A notice's words and facts ({"body", "title", "status", "priority", "service"}); then
    # subject, body and html are empty, and the expansion renders them. Null for announcements.
    facts = models.JSONField(null=True, blank=True)
    stage = models.PositiveSmallIntegerField(choices=Stage.choices, default=Stage.DIRECT)
    # The last subscription id expanded in the current stage.
    cursor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    expanded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Workers claim what is not yet expanded, oldest first.
            models.Index(fields=["created_at", "id"], condition=Q(expanded_at__isnull=True), name="fanout_pending"),
            models.Index(fields=["incident", "created_at"], name="fanout_incident"),
            models.Index(fields=["maintenance"], condition=Q(maintenance__isnull=False), name="fanout_maintenance"),
            models.Index(fields=["service"], condition=Q(service__isnull=False), name="fanout_service"),
        ]
        constraints = [models.UniqueConstraint(fields=["key"], name="fanout_key_once")]

    def __str__(self):
        return self.key


class OutboundMessage(models.Model):
    """The transactional outbox: written with the change, delivered after commit."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed for good"

    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    webhook = models.ForeignKey(
        WebhookSubscription, null=True, blank=True, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # The announcement this message was expanded from (delivery progress per update).
    fanout = models.ForeignKey(FanOut, null=True, blank=True, on_delete=models.PROTECT, related_name="messages")
    # One effect once: the same key is never queued twice (Meta: a unique constraint, without
    # the LIKE index nobody uses; the rows are written by the ten thousand).
    dedupe_key = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="outbox_due"),
            models.Index(fields=["state", "created_at"], name="outbox_state"),
            models.Index(fields=["webhook"], condition=Q(webhook__isnull=False), name="outbox_webhook"),
        ]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="outbox_dedupe_once")]

    def __str__(self):
        if self.channel == self.Channel.WEBHOOK:  # its address may carry a secret
            return f"webhook {self.webhook_id}: {self.subject}"
        return f"{self.channel} to {self.to}: {self.subject}"


class SavedView(models.Model):
    """A person's named queue filters (a query string), optionally shared with a team."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=1000, blank=True)
    team = models.ForeignKey(
        "skills.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_once")]
        indexes = [models.Index(fields=["team"], condition=Q(team__isnull=False), name="saved_view_shared")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        url = reverse("incidents:queue")
        return f"{url}?{self.query}" if self.query else url


class InboundAlert(models.Model):
    """An alert as a monitor delivered it, kept until it is applied: the webhook answers
    after one INSERT, and a worker applies the alerts in arrival order per source key."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Applied"
        FAILED = "failed", "Failed"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source_key = models.CharField(max_length=250)
    status = models.CharField(max_length=10)  # firing or resolved
    payload = models.JSONField()
    received_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    outcome = models.CharField(max_length=20, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    error = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The drain: pending alerts in arrival order, and the older one of the same key.
            models.Index(fields=["id"], condition=Q(state="pending"), name="inbound_pending"),
            models.Index(fields=["source_key", "id"], condition=Q(state="pending"), name="inbound_pending_key"),
        ]

    def __str__(self):
        return f"{self.status} {self.source_key} ({self.state})"


class InboundMessage(models.Model):
    """One email handed to the desk (the API, an MTA's pipe, the IMAP poller), written in
    the same transaction as what it did: the unique `key` (its Message-ID, or a hash of the
    raw message without one) is how a message given twice is taken once, and how
    fetch_mail, restarted after a crash, knows a message it still sees was taken."""

    class State(models.TextChoices):
        DONE = "done", "Taken"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    class Via(models.TextChoices):
        API = "api", "API"
        PIPE = "pipe", "MTA pipe"
        IMAP = "imap", "IMAP"

    key = models.CharField(max_length=255, unique=True)
    message_id = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=254, blank=True)  # the From address, lower case
    subject = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField()
    via = models.CharField(max_length=10, choices=Via.choices)
    received_by = models.ForeignKey(  # the integration account that posted it (the API)
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices)
    # created, commented, noted, reopened (done); the reason says why it was ignored or failed.
    outcome = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [
            # The loop guard: a sender's messages of the last minute.
            models.Index(fields=["sender", "received_at"], name="inbound_mail_sender"),
            # The admin's list, newest first.
            models.Index(fields=["received_at", "id"], name="inbound_mail_received"),
        ]

    def __str__(self):
        return f"{self.key} ({self.state})"


def attachment_path(instance, filename):
    """Where an attachment's bytes live in storage: a random key under the incident, never
    the uploader's file name (which is kept, cleaned, in `name`)."""
    import uuid

    return f"attachments/{instance.incident_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on an incident, stored through Django's storage API (STORAGES["default"]).
    Pending until the virus scanner (ATTACHMENT_SCANNER) passes it, if one is set;
    available, it is listed on the timeline and served to whoever may see the incident;
    rejected, its bytes are deleted and the reason kept."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the virus scan"
        AVAILABLE = "available", "Available"
        REJECTED = "rejected", "Rejected by the virus scan"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200, blank=True)
    name = models.CharField(max_length=200)  # the uploader's file name, cleaned
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)  # sniffed from the bytes
    declared_type = models.CharField(max_length=100, blank=True)  # what the sender said: kept, not trusted
    sha256 = models.CharField(max_length=64)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    scanned_at = models.DateTimeField(null=True, blank=True)
    rejection = models.TextField(blank=True)  # the scanner's reason

    class Meta:
        indexes = [
            models.Index(fields=["incident", "created_at", "id"], name="attachment_incident"),
            # The scan sweep: pending attachments, oldest first.
            models.Index(fields=["id"], condition=Q(state="pending"), name="attachment_pending"),
        ]

    def __str__(self):
        return f"{self.name} on {self.incident_id} ({self.state})"


class MaintenanceWindow(models.Model):
    """Planned work on public services, announced on the status page by level 4
    (incidents.maintenance). Editable and cancellable until it ends; the sweep tells the
    status page's subscribers when it starts and when it ends, once each."""

    public_id = models.CharField(max_length=16, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    services = models.ManyToManyField("procedures.Service", related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # When the sweep announced the start and the end (each once).
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep claims windows whose start or end is due and not yet announced.
            models.Index(
                fields=["starts_at"], condition=Q(started_at__isnull=True, cancelled_at__isnull=True),
                name="maintenance_start_due",
            ),
            models.Index(
                fields=["ends_at"], condition=Q(ended_at__isnull=True, cancelled_at__isnull=True),
                name="maintenance_end_due",
            ),
            # The status page's version stamp: the newest change.
            models.Index(fields=["updated_at"], name="maintenance_updated"),
        ]  # fmt: skip
        constraints = [
            models.CheckConstraint(
                name="maintenance_ends_after_start", condition=Q(ends_at__gt=models.F("starts_at")),
                violation_error_message="The end must be after the start.",
            ),
        ]

    def __str__(self):
        return self.title


class MaintenanceEvent(models.Model):
    """What happened to a maintenance window, and who did it: its audit trail."""

    class Kind(models.TextChoices):
        ANNOUNCED = "announced", "Announced"
        EDITED = "edited", "Edited"
        CANCELLED = "cancelled", "Cancelled"
        STARTED = "started", "Started"
        ENDED = "ended", "Ended"

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["window", "at"], name="maintenance_event_window")]

    def __str__(self):
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"
