from datetime import datetime, time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def day_start(day):
    """The first moment of `day` in the desk's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


class Review(models.Model):
    """The review of an incident, led at level 5: opened when a major incident is resolved
    (or on demand for any incident), pre-filled from the timeline; the lead records the
    impact, the contributing factors, what went well and badly, and actions with owners
    and due dates; closing it sends the outcome to the service owner and stakeholders."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="review")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField()
    impact = models.TextField(blank=True)
    # Contributing factors, one short sentence each.
    causes = models.JSONField(default=list, blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    outcome = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], condition=models.Q(completed_at__isnull=True), name="review_open"),
            models.Index(fields=["opened_at", "id"], name="review_opened"),
        ]

    def __str__(self):
        return f"Review of {self.incident.reference}"

    @property
    def is_open(self):
        return self.completed_at is None


class ReviewAction(models.Model):
    """Something the review decided must be done, by someone, by a date. Its owner is
    reminded by email when it falls due (the start of its date); open ones past their
    date (from the day after) are overdue."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_actions")
    due_on = models.DateField()
    # The moment the reminder is due (the start of `due_on` in the desk's time zone).
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The reminder sweep: open actions whose reminder has not gone yet.
            models.Index(fields=["due_at"], condition=Q(done_at__isnull=True, reminded_at__isnull=True), name="review_action_remind"),
            # The overdue list: open actions by due date.
            models.Index(fields=["due_at", "id"], condition=Q(done_at__isnull=True), name="review_action_open"),
        ]

    def __str__(self):
        return self.title

    @staticmethod
    def overdue_q(now, to_action=""):
        """Open and past their date at `now`: due before today began (on `review_action_open`).
        `to_action`: the path to the action from the model queried (`actions__` from a review)."""
        return Q(**{f"{to_action}done_at__isnull": True, f"{to_action}due_at__lt": day_start(timezone.localdate(now))})

    def is_overdue(self, now):
        return self.done_at is None and self.due_at < day_start(timezone.localdate(now))


class MetricsDay(models.Model):
    """The summable figures of one day's registered incidents (cancelled ones left out),
    for one value of one grouping, split by team and security flag so that level 4 (their
    teams) and the security wall can be applied to the sums. Rebuilt, never edited, by
    `reporting.rollups`; the metrics read whole clean days from here and everything else
    from the incidents. Every incident counts once per dimension."""

    day = models.DateField()  # the registration date in the build's TIME_ZONE
    dimension = models.CharField(max_length=10)  # a key of reporting.metrics.GROUPS
    key = models.CharField(max_length=40, blank=True)  # the group's id or value ("": none)
    team_id = models.IntegerField(null=True)
    is_security = models.BooleanField()
    count = models.IntegerField()
    acknowledged = models.IntegerField()
    ack_working_n = models.IntegerField()
    resolved = models.IntegerField()
    resolve_working_n = models.IntegerField()
    ack_sum = models.BigIntegerField()
    ack_working_sum = models.BigIntegerField()
    resolve_sum = models.BigIntegerField()
    resolve_working_sum = models.BigIntegerField()
    response_decided = models.IntegerField()
    response_met = models.IntegerField()
    resolution_decided = models.IntegerField()
    resolution_met = models.IntegerField()
    breaches = models.IntegerField()
    escalations = models.IntegerField()
    escalated_incidents = models.IntegerField()
    reopened = models.IntegerField()
    ever_resolved = models.IntegerField()
    first_line = models.IntegerField()
    major_incidents = models.IntegerField()
    major_resolved = models.IntegerField()
    major_resolve_sum = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["dimension", "day"], name="metrics_day")]

    def __str__(self):
        return f"{self.day} {self.dimension}={self.key}"


class MetricsDayBuilt(models.Model):
    """A day whose roll-up rows exist: built from every incident change before `built_at`
    (the build's start less a margin for transactions still committing). The metrics use
    a day only while no incident registered on it has changed since, and only in the
    time zone it was built in."""

    day = models.DateField(primary_key=True)
    built_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64)

    def __str__(self):
        return f"{self.day} built {self.built_at:%Y-%m-%d %H:%M} ({self.time_zone})"


class MetricsMonth(models.Model):
    """How many of one month's registered incidents (cancelled ones left out) had each
    duration in one bucket (`reporting.percentiles.BOUNDS`: log-spaced, fixed in code),
    for one value of one grouping: split by team and security flag as `MetricsDay` is (what
    level 4's teams and the security wall filter), and once more for every team and flag
    together (`is_security` None: what level 5 reads, a fifth of the rows). The metrics
    add complete months up to find which bucket holds each percentile's values, then read
    only that bucket's values from the incidents (exact figures). Rebuilt, never edited,
    by `reporting.rollups`, once the month is over."""

    month = models.DateField()  # its first day, in the build's TIME_ZONE
    dimension = models.CharField(max_length=10)  # a key of reporting.metrics.GROUPS
    key = models.CharField(max_length=40, blank=True)  # the group's id or value ("": none)
    team_id = models.IntegerField(null=True)  # None: no team, or every team (is_security None)
    is_security = models.BooleanField(null=True)  # None: the row sums every team and both flags
    bucket = models.SmallIntegerField()  # width_bucket(value, BOUNDS): 1 holds 0
    # How many values of each duration column fell in the bucket.
    ack = models.IntegerField()
    ack_working = models.IntegerField()
    resolve = models.IntegerField()
    resolve_working = models.IntegerField()

    class Meta:
        # is_security among the keys: level 5's reads (IS NULL) skip the split rows.
        indexes = [models.Index(fields=["dimension", "month", "is_security"], name="metrics_month")]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.dimension}={self.key} bucket {self.bucket}"


class MetricsMonthBuilt(models.Model):
    """A month whose histogram rows exist, built from every incident change before
    `built_at` (as `MetricsDayBuilt`), in one time zone and with one set of bucket bounds;
    the metrics use it only while no incident registered in it has changed since, and
    only in that time zone with those bounds."""

    month = models.DateField(primary_key=True)
    built_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64)
    buckets = models.CharField(max_length=32)  # reporting.percentiles.SCHEME

    def __str__(self):
        return f"{self.month:%Y-%m} built {self.built_at:%Y-%m-%d %H:%M} ({self.time_zone}, {self.buckets})"
