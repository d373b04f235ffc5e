"""Fill the metric columns of the incidents that existed before them, from their
timestamps and their timelines (the services write them from now on)."""

from types import SimpleNamespace

from django.db import migrations

BATCH = 2000


def _calendar(calendar):
    return SimpleNamespace(
        is_24x7=calendar.around_the_clock, timezone=calendar.timezone,
        working_hours=calendar.working_hours, holidays=calendar.holidays,
    )  # fmt: skip


def fill(apps, schema_editor):
    from procedures.sla import working_seconds_between

    Incident = apps.get_model("incidents", "Incident")
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    Person = apps.get_model("skills", "Person")
    calendars = {}
    last = 0
    while True:
        batch = list(
            Incident.objects.filter(pk__gt=last).select_related("procedure_version__calendar").order_by("pk")[:BATCH]
        )
        if not batch:
            return
        last = batch[-1].pk
        events = {}
        for event in TimelineEvent.objects.filter(
            incident__in=batch, kind__in=["reopened", "escalated", "assigned", "resolved"]
        ).order_by("at", "pk"):
            events.setdefault(event.incident_id, []).append(event)
        levels = dict(Person.objects.filter(role="staff").values_list("pk", "sfia_level"))
        for incident in batch:
            calendar_row = incident.procedure_version.calendar
            calendar = calendars.setdefault(calendar_row.pk, _calendar(calendar_row))
            own = events.get(incident.pk, [])

            def working(end, held=0, incident=incident, calendar=calendar):
                return max(0, working_seconds_between(calendar, incident.created_at, end) - held)

            if incident.acknowledged_at:
                incident.ack_seconds = max(0, int((incident.acknowledged_at - incident.created_at).total_seconds()))
                incident.ack_working_seconds = working(incident.acknowledged_at)
            incident.reopen_count = sum(1 for e in own if e.kind == "reopened")
            incident.escalation_count = sum(
                1 for e in own if e.kind == "escalated" and (e.data.get("mode") != "policy" or "level" in e.data or "after" in e.data)
            )
            incident.team_changes = sum(
                1
                for e in own
                if (e.kind == "escalated" and "after" in e.data)
                or (e.kind == "assigned" and e.data.get("before", {}).get("team") != e.data.get("after", {}).get("team"))
            )
            if incident.resolved_at:
                incident.resolve_seconds = max(0, int((incident.resolved_at - incident.created_at).total_seconds()))
                # Time on hold comes after the acknowledgement (work starts before a hold).
                incident.resolve_working_seconds = working(incident.resolved_at, incident.held_seconds)
                resolutions = [e for e in own if e.kind == "resolved"]
                if resolutions:
                    incident.resolved_by_id = resolutions[-1].actor_id
                    incident.resolved_level = levels.get(resolutions[-1].actor_id)
                incident.resolved_first_line = incident.resolved_level in (1, 2) and incident.team_changes == 0
                if incident.closed_at:
                    incident.close_seconds = max(0, int((incident.closed_at - incident.resolved_at).total_seconds()))
        Incident.objects.bulk_update(
            batch,
            [
                "ack_seconds", "ack_working_seconds", "resolve_seconds", "resolve_working_seconds", "close_seconds",
                "reopen_count", "escalation_count", "team_changes", "resolved_by", "resolved_level", "resolved_first_line",
            ],
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_milestone_durations"), ("skills", "0001_initial")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
