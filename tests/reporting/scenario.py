"""A month of incidents with known times, whose every figure is worked out by hand in
the tests (see test_metrics_figures.py for the arithmetic)."""

from dataclasses import dataclass
from datetime import UTC, datetime

import time_machine

from incidents import services
from procedures.models import IncidentClass
from tests.factories import (
    CalendarFactory,
    CategoryFactory,
    ProcedureFactory,
    ProcedureVersionFactory,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
FLAT = {str(p): {"response": 1200, "resolution": 14400} for p in range(1, 6)}
GENEROUS = {str(p): {"response": 7200, "resolution": 36000} for p in range(1, 6)}


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Month:
    held: object  # infra, 24x7, on hold 2 h, major, response breached
    dst: object  # service desk, office hours over the DST change, first-line
    reopened: object  # infra, 24x7, escalated, reopened
    open: object  # infra, never acknowledged
    secret: object  # security team, never acknowledged
    cancelled: object
    desk2: object


def build(world):
    hardware = world.hardware.procedure.versions.get()
    hardware.sla_targets = FLAT
    hardware.save(update_fields=["sla_targets"])
    office = CalendarFactory(
        slug="office-hours", name="Office hours", timezone="Europe/London", around_the_clock=False,
        working_hours={day: [["09:00", "17:00"]] for day in WEEKDAYS},
    )  # fmt: skip
    how_to = CategoryFactory(
        slug="how-to",
        procedure=ProcedureVersionFactory(
            procedure=ProcedureFactory(slug="how-to", incident_class=IncidentClass.LOW_IMPACT),
            team=world.desk, calendar=office, sla_targets=GENEROUS, action_levels={"resolve": 2},
        ).procedure,
    )  # fmt: skip
    desk2 = world.person(2, world.desk, username="desk2")
    l3, l4, l5 = world.people[3], world.people[4], world.people[5]

    def register(moment, **kwargs):
        with time_machine.travel(moment, tick=False):
            return world.incident(**kwargs)

    held = register(at(2, 10))
    services.incident_start(actor=l3, incident=held, now=at(2, 10, 30))
    services.incident_declare_major(actor=l5, incident=held, reason="Mail down", now=at(2, 10, 40))
    services.incident_hold(actor=l3, incident=held, reason="Waiting for the vendor", now=at(2, 11))
    services.incident_resume(actor=l3, incident=held, now=at(2, 13))
    services.incident_resolve(actor=l3, incident=held, resolution_code="fixed", resolution_notes="ok", now=at(2, 14))

    reopened = register(at(3, 9))
    services.incident_start(actor=l3, incident=reopened, now=at(3, 9, 5))
    services.incident_escalate(actor=l3, incident=reopened, reason="Needs a senior", now=at(3, 9, 30))
    services.incident_resolve(actor=l3, incident=reopened, resolution_code="fixed", resolution_notes="ok", now=at(3, 10))
    services.incident_reopen(actor=l4, incident=reopened, reason="Came back", now=at(3, 11))
    services.incident_resolve(actor=l3, incident=reopened, resolution_code="fixed", resolution_notes="ok", now=at(3, 12))

    secret = register(at(5, 10), category=world.security_category)
    cancelled = register(at(10, 9))
    services.incident_cancel(actor=l3, incident=cancelled, reason="Duplicate", now=at(10, 10))
    still_open = register(at(20, 9))

    # Friday 16:00 GMT; the clocks go forward on Sunday 29 March; Monday is BST.
    dst = register(at(27, 16), category=how_to, impact=3, urgency=3)
    services.incident_start(actor=desk2, incident=dst, now=at(30, 8, 30))
    services.incident_resolve(actor=desk2, incident=dst, resolution_code="advice", resolution_notes="ok", now=at(30, 15))
    return Month(held, dst, reopened, still_open, secret, cancelled, desk2)
