from django.conf import settings
from django.db import models
from django.db.models import Q


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
    reminded by email when it falls due; open ones past their date are overdue."""

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
