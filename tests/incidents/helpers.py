from django.utils import timezone

from incidents.models import Incident, Status, TimelineEvent


def force_state(incident, status, assignee):
    """Put an incident in `status` directly, with the fields that state implies (test set-up only)."""
    now = timezone.now()
    fields = {"status": status}
    if status != Status.NEW:
        fields["assignee"] = assignee
    if status not in (Status.NEW, Status.ASSIGNED):
        fields["acknowledged_at"] = now  # work has started, so someone has responded
    if status == Status.ON_HOLD:
        fields["on_hold_since"] = now
    if status in (Status.RESOLVED, Status.CLOSED):
        fields |= {"resolved_at": now, "resolution_code": "fixed", "resolution_notes": "done"}
    if status in (Status.CLOSED, Status.CANCELLED):
        fields["closed_at"] = now
    Incident.objects.filter(pk=incident.pk).update(**fields)
    return Incident.objects.get(pk=incident.pk)


def snapshot(incident):
    """Everything that could change, to show that a refused request changed nothing."""
    row = Incident.objects.filter(pk=incident.pk).values().get()
    return row, TimelineEvent.objects.filter(incident_id=incident.pk).count()


def call(client, incident, name, body):
    url = f"/api/v1/incidents/{incident.reference}/"
    if name == "PATCH":
        return client.patch(url, body, format="json")
    return client.post(f"{url}{name}/", body, format="json")


def login(client, person):
    client.force_login(person)
    return client


def detail_url(incident):
    return f"/incidents/{incident.reference}/"


def act_url(incident, action):
    return f"/incidents/{incident.reference}/{action}/"
