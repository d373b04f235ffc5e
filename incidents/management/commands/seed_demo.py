"""The demo organisation of API.md. Idempotent: running it again changes nothing that is
already as described (passwords of the demo people are reset to their usernames)."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

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

# seconds: (response, resolution) per priority
STANDARD_TARGETS = {1: (900, 4 * 3600), 2: (1800, 8 * 3600), 3: (4 * 3600, 24 * 3600), 4: (8 * 3600, 3 * 86400), 5: (24 * 3600, 5 * 86400)}
MAJOR_TARGETS = {1: (300, 2 * 3600), 2: (600, 4 * 3600), 3: (900, 8 * 3600), 4: (1800, 24 * 3600), 5: (3600, 48 * 3600)}
SECURITY_TARGETS = {1: (600, 4 * 3600), 2: (1800, 8 * 3600), 3: (3600, 24 * 3600), 4: (4 * 3600, 3 * 86400), 5: (8 * 3600, 5 * 86400)}
LOW_IMPACT_TARGETS = {1: (4 * 3600, 16 * 3600), 2: (8 * 3600, 24 * 3600), 3: (16 * 3600, 40 * 3600), 4: (24 * 3600, 80 * 3600), 5: (40 * 3600, 120 * 3600)}
ESCALATE_TO_MANAGERS = [
    {"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
    {"anchor": "resolve_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
]
# slug: (name, class, team, calendar, targets, categories)
PROCEDURES = {
    "hardware": ("Hardware", IncidentClass.STANDARD, "infrastructure", "24x7", STANDARD_TARGETS),
    "network": ("Network", IncidentClass.STANDARD, "infrastructure", "24x7", STANDARD_TARGETS),
    "software": ("Software", IncidentClass.STANDARD, "applications", "office-hours", STANDARD_TARGETS),
    "security": ("Security", IncidentClass.SECURITY, "security", "24x7", SECURITY_TARGETS),
    "how-to": ("How-to", IncidentClass.LOW_IMPACT, "service-desk", "office-hours", LOW_IMPACT_TARGETS),
    "outage": ("Outage", IncidentClass.MAJOR, "infrastructure", "24x7", MAJOR_TARGETS),
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
                slug="24x7", defaults={"name": "Around the clock", "timezone": "UTC", "working_hours": {}}
            )[0],
            "office-hours": Calendar.objects.update_or_create(
                slug="office-hours",
                defaults={"name": "Office hours", "timezone": "Europe/London", "working_hours": OFFICE_HOURS},
            )[0],
        }
        for slug, (name, incident_class, team, calendar, targets) in PROCEDURES.items():
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
                    sla_targets={str(p): {"response": r, "resolution": s} for p, (r, s) in targets.items()},
                    escalation=ESCALATE_TO_MANAGERS,
                    created_by=people["owner5"],
                    created_at=now,
                    published_by=people["owner5"],
                    published_at=now,
                )
        self.stdout.write(self.style.SUCCESS("Demo organisation ready. Log in as any demo person: password = username."))
