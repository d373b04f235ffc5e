from django.conf import settings
from django.db import models


class Review(models.Model):
    """The review a major incident must have: opened at resolution, led by its
    communications lead, its outcome sent to the service owners."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="review")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField()
    outcome = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], condition=models.Q(completed_at__isnull=True), name="review_open")]

    def __str__(self):
        return f"Review of {self.incident.reference}"
