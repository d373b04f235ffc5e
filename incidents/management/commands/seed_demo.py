"""The demo organisation of API.md. Idempotent: running it again changes nothing that is
already as described (passwords of the demo people are reset to their usernames)."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from procedures.defaults import defaults_for
from procedures.models import (
    Calendar,
    Category,
    IncidentClass,
    Procedure,
    ProcedureVersion,
    Service,
)
from skills.models import Person, Role, Team

TEAMS = [
    ("service-desk", "Service desk", False),
    ("infrastructure", "Infrastructure", False),
    ("applications", "Applications", False),
    ("security", "Security incident response team", True),
]
PEOPLE = [
    ("agent1", "Service desk agent", Role.STAFF, 1, ["service-desk"]),
    ("agent2", "Service desk analyst", Role.STAFF, 2, ["service-desk"]),
    ("engineer3", "Infrastructure engineer", Role.STAFF, 3, ["infrastructure"]),
    ("appdev3", "Application support engineer", Role.STAFF, 3, ["applications"]),
    ("csirt3", "Security incident responder", Role.STAFF, 3, ["security"]),
    ("manager4", "Incident manager", Role.STAFF, 4, ["service-desk"]),
    ("owner5", "Incident management process owner", Role.STAFF, 5, ["service-desk"]),
    ("reporter", "An end user", Role.REPORTER, None, []),
    ("svcowner", "Owner of the email service", Role.STAKEHOLDER, None, []),
    ("monitoring", "Monitoring alerts", Role.INTEGRATION, None, []),
]
SERVICES = [("email", "Email", "svcowner"), ("vpn", "VPN", None), ("payroll", "Payroll", None), ("website", "Website", None)]
OFFICE_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

# slug: (name, class, team, calendar)
PROCEDURES = {
    "hardware": ("Hardware", IncidentClass.STANDARD, "infrastructure", "24x7"),
    "network": ("Network", IncidentClass.STANDARD, "infrastructure", "24x7"),
    "software": ("Software", IncidentClass.STANDARD, "applications", "office-hours"),
    "security": ("Security", IncidentClass.SECURITY, "security", "24x7"),
    "how-to": ("How-to", IncidentClass.LOW_IMPACT, "service-desk", "office-hours"),
    "outage": ("Outage", IncidentClass.MAJOR, "infrastructure", "24x7"),
}


class Command(BaseCommand):
    help = "Create the demo organisation (people, teams, services, categories, procedures). Idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        now = timezone.now()
        teams = {}
        for slug, name, is_security in TEAMS:
            teams[slug], _ = Team.objects.update_or_create(
                slug=slug, defaults={"name": name, "is_security": is_security, "email": f"{slug}@example.com"}
            )
        people = {}
        for username, title, role, level, team_slugs in PEOPLE:
            first, _, last = title.partition(" ")
            person, _ = Person.objects.update_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.com",
                    "first_name": title,
                    "role": role,
                    "sfia_level": level,
                    "is_staff": level is not None and level >= 4,
                    "is_active": True,
                },
            )
            person.set_password(username)
            person.save(update_fields=["password"])
            person.teams.set([teams[slug] for slug in team_slugs])
            people[username] = person
        for slug, name, owner in SERVICES:
            Service.objects.update_or_create(slug=slug, defaults={"name": name, "owner": people.get(owner)})
        calendars = {
            "24x7": Calendar.objects.update_or_create(
                slug="24x7", defaults={"name": "Around the clock", "timezone": "UTC", "around_the_clock": True, "working_hours": {}}
            )[0],
            "office-hours": Calendar.objects.update_or_create(
                slug="office-hours",
                defaults={"name": "Office hours", "timezone": "Europe/London", "working_hours": OFFICE_HOURS},
            )[0],
        }
        for slug, (name, incident_class, team, calendar) in PROCEDURES.items():
            procedure, _ = Procedure.objects.update_or_create(
                slug=slug, defaults={"name": name, "incident_class": incident_class}
            )
            Category.objects.update_or_create(slug=slug, defaults={"name": name, "procedure": procedure})
            if not procedure.versions.filter(state=ProcedureVersion.State.PUBLISHED).exists():
                ProcedureVersion.objects.create(
                    procedure=procedure,
                    number=(procedure.versions.count() + 1),
                    state=ProcedureVersion.State.PUBLISHED,
                    team=teams[team],
                    calendar=calendars[calendar],
                    **defaults_for(incident_class),
                    created_by=people["owner5"],
                    created_at=now,
                    published_by=people["owner5"],
                    published_at=now,
                )
        self.stdout.write(self.style.SUCCESS("Demo organisation ready. Log in as any demo person: password = username."))
