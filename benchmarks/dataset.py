"""Fill the benchmark database with a year of realistic incidents (run by run.py).

    DATABASE_URL=postgres://.../firebreak_bench python benchmarks/dataset.py --target 100000

Tops the incidents table up to --target rows; does nothing when it already holds that
many. Rows are built in Python with the same routing, priority matrix (`priority_for`) and
due-time arithmetic (`sla.sla_times`) the services use, then streamed into PostgreSQL with
COPY (psycopg 3's `cursor.copy`), oldest first so that ids follow created_at as in a real
desk. A large load (over LARGE rows) drops the table's secondary indexes first and builds
them again after, which is several times faster than maintaining a dozen B-trees and a GIN
index row by row. Then --timelines recent open incidents get 50 timeline events each (the
detail scenario). Finishes with VACUUM ANALYZE so the planner has statistics and the
visibility map is set. Deterministic: the same target and starting count give the same rows.
"""

import argparse
import dataclasses
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from incidents.models import OPEN_STATUSES, Channel, Incident, Status, TimelineEvent  # noqa: E402
from procedures import selectors as procedure_selectors  # noqa: E402
from procedures import sla  # noqa: E402
from procedures.models import Category, Service  # noqa: E402
from procedures.priority import priority_for  # noqa: E402
from procedures.selectors import procedure_version_in_force  # noqa: E402
from skills.models import Person, Role, Team  # noqa: E402

try:  # routing rules, where the procedures have them
    from procedures.routing import route  # noqa: E402
except ImportError:  # pragma: no cover
    route = None

INCIDENT_FIELDS = {field.name for field in Incident._meta.get_fields()}


def sla_fields(version, priority, created_at, held_seconds):
    """The incident's due and warning times, from the same function the services use."""
    times = sla.sla_times(version, priority, created_at, held_seconds)
    return {f.name: getattr(times, f.name) for f in dataclasses.fields(times)}


def _memoise_working_intervals():
    """A year of arrivals asks for the same few hundred calendar days again and again: keep
    each (calendar, day) answer. The arithmetic is still procedures.sla's own."""
    original, memo = sla.working_intervals, {}

    def working_intervals(calendar, day):
        key = (id(calendar), day)
        if key not in memo:
            memo[key] = original(calendar, day)
        return memo[key]

    sla.working_intervals = working_intervals


BATCH = 20000
LARGE = 200_000  # above this many new rows, drop and rebuild the secondary indexes
EVENTS_PER_TIMELINE = 50
DAY = 86400

# Extra people, so that assignees and reporters are spread like a real desk.
EXTRA_STAFF = {"service-desk": 8, "infrastructure": 6, "applications": 6, "security": 2}
REPORTERS = 400

CATEGORY_WEIGHTS = {
    "hardware": 22,
    "network": 18,
    "software": 28,
    "how-to": 24,
    "security": 5,
    "outage": 3,
}
SERVICES_FOR = {
    "hardware": [None, None, None, "email", "website"],
    "network": ["vpn", "vpn", "email", "website", None],
    "software": ["payroll", "email", "website", "email", None],
    "how-to": [None, None, "email", "vpn"],
    "security": [None, "email", "website", "vpn"],
    "outage": ["email", "vpn", "payroll", "website"],
}
CHANNELS = [
    (Channel.WEB, 45),
    (Channel.EMAIL, 25),
    (Channel.PHONE, 10),
    (Channel.ALERT, 14),
    (Channel.API, 6),
]
IMPACT = [(1, 8), (2, 30), (3, 62)]
URGENCY = [(1, 14), (2, 36), (3, 50)]
OPEN_MIX = [(Status.NEW, 18), (Status.ASSIGNED, 20), (Status.IN_PROGRESS, 42), (Status.ON_HOLD, 20)]
RESOLUTION_CODES = [
    "fixed",
    "fixed",
    "fixed",
    "workaround",
    "no-fault-found",
    "user-error",
    "replaced",
    "config-change",
]

SITES = [
    "London",
    "Leeds",
    "Manchester",
    "Bristol",
    "Glasgow",
    "Cardiff",
    "Belfast",
    "Dublin",
    "Paris",
    "Berlin",
]
WORDS = {
    "hardware": (
        [
            "Laptop",
            "Printer",
            "Monitor",
            "Docking station",
            "Keyboard",
            "Desk phone",
            "Badge reader",
            "Headset",
            "Scanner",
            "Projector in meeting room",
        ],
        [
            "will not power on",
            "is very slow",
            "shows a blue screen",
            "keeps overheating",
            "has a cracked screen",
            "is not detected",
            "jams on every print job",
            "makes a grinding noise",
            "battery drains in an hour",
            "flickers constantly",
        ],
    ),
    "network": (
        [
            "VPN",
            "Wi-Fi",
            "Office network",
            "DNS",
            "Firewall",
            "Proxy",
            "Guest Wi-Fi",
            "Network share",
            "Remote desktop gateway",
        ],
        [
            "drops every few minutes",
            "cannot connect",
            "times out when connecting",
            "has very high latency",
            "refuses my certificate",
            "is unreachable from home",
            "resolves the wrong address",
            "is painfully slow",
        ],
    ),
    "software": (
        [
            "Payroll application",
            "Outlook",
            "Teams",
            "Excel",
            "CRM",
            "HR portal",
            "Expenses app",
            "Website CMS",
            "Finance reports",
            "Timesheet system",
        ],
        [
            "crashes on start",
            "shows error 500 when saving",
            "says the licence has expired",
            "login fails",
            "export to PDF is broken",
            "freezes when opening attachments",
            "loses my changes",
            "will not update",
            "shows the wrong totals",
            "sync error on every change",
        ],
    ),
    "how-to": (
        ["How do I"],
        [
            "reset my password",
            "set up mail on my phone",
            "share my calendar",
            "request a new monitor",
            "connect to the VPN from home",
            "map a network drive",
            "add a signature in Outlook",
            "book a meeting room display",
            "install the expenses app",
            "change my multi-factor device",
        ],
    ),
    "security": (
        ["Security:"],
        [
            "phishing email reported",
            "suspicious login from abroad",
            "malware detected on laptop",
            "lost laptop on the train",
            "password shared by mistake",
            "unknown USB device plugged in",
            "ransomware warning on file share",
            "account locked after brute force attempts",
        ],
    ),
    "outage": (
        ["Email", "VPN", "Payroll", "Website", "Telephony", "File server"],
        [
            "is down for everyone",
            "unavailable at the main site",
            "outage after maintenance",
            "returns errors for all users",
            "is completely unreachable",
        ],
    ),
}
DETAILS = [
    "It started this morning and affects my whole team.",
    "Rebooting did not help.",
    "The error message says 'unexpected failure, contact your administrator'.",
    "It worked fine yesterday afternoon.",
    "Colleagues next to me see the same problem.",
    "This is blocking the month-end close.",
    "I have attached a screenshot of the error.",
    "Happens intermittently, roughly every hour.",
    "Customer calls are being affected.",
    "Only when working from home, not in the office.",
    "A new starter needs this before Monday.",
    "The problem appeared after the latest update was installed.",
]


def weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def ensure_people():
    """Extra staff per team and a few hundred reporters (idempotent, unusable passwords)."""
    unusable = make_password(None)
    teams = {team.slug: team for team in Team.objects.all()}
    existing = set(
        Person.objects.filter(username__startswith="bench-").values_list("username", flat=True)
    )
    for slug, count in EXTRA_STAFF.items():
        for n in range(1, count + 1):
            username = f"bench-{slug}-{n}"
            if username in existing:
                continue
            person = Person.objects.create(
                username=username, email=f"{username}@example.com", first_name=f"{teams[slug].name} {n}",
                role=Role.STAFF, sfia_level=1 + n % 3, password=unusable,
            )  # fmt: skip
            person.teams.set([teams[slug]])
    missing = [
        Person(username=f"bench-user-{n:03d}", email=f"bench-user-{n:03d}@example.com", role=Role.REPORTER,
               first_name=f"User {n}", password=unusable)
        for n in range(1, REPORTERS + 1)
        if f"bench-user-{n:03d}" not in existing
    ]  # fmt: skip
    Person.objects.bulk_create(missing, batch_size=1000)


class Builder:
    def __init__(self, rng, now):
        self.rng, self.now = rng, now
        self.categories = {c.slug: c for c in Category.objects.select_related("procedure")}
        self.versions = {slug: procedure_version_in_force(c) for slug, c in self.categories.items()}
        self.services = {s.slug: s for s in Service.objects.all()}
        self.teams = {t.slug: t for t in Team.objects.all()}
        self.staff = {
            slug: list(
                Person.objects.filter(role=Role.STAFF, is_active=True, teams=team).order_by("id")
            )
            for slug, team in self.teams.items()
        }
        self.reporters = list(
            Person.objects.filter(role=Role.REPORTER, is_active=True).order_by("id")
        )
        self.monitoring = Person.objects.get(username="monitoring")
        self.desk_agents = self.staff["service-desk"]
        self.category_pairs = [
            (slug, w) for slug, w in CATEGORY_WEIGHTS.items() if slug in self.categories
        ]
        self.other_teams = [t for t in self.teams.values() if not t.is_security]
        # The priority matrix in force (configurable where the code allows it).
        self.matrix = (
            procedure_selectors.priority_matrix()
            if hasattr(procedure_selectors, "priority_matrix")
            else None
        )

    def created_times(self, count):
        """`count` arrival times over the past year, busier on weekdays in office hours, sorted."""
        rng, times = self.rng, []
        start = self.now - timedelta(days=365)
        while len(times) < count:
            moment = start + timedelta(seconds=rng.uniform(0, 365 * DAY - 60))
            weight = 1.0 if moment.weekday() < 5 else 0.25
            weight *= 1.0 if 7 <= moment.hour < 19 else 0.2
            if rng.random() < weight:
                times.append(moment)
        times.sort()
        return times

    def status_for(self, age_days):
        """Mostly closed; open work is concentrated in the last weeks (a few thousand in all)."""
        rng = self.rng
        if age_days < 2:
            mix = [("open", 80), (Status.RESOLVED, 16), (Status.CANCELLED, 4)]
        elif age_days < 14:
            mix = [("open", 40), (Status.RESOLVED, 25), (Status.CLOSED, 30), (Status.CANCELLED, 5)]
        elif age_days < 60:
            mix = [("open", 6), (Status.RESOLVED, 1), (Status.CLOSED, 88), (Status.CANCELLED, 5)]
        else:
            mix = [("open", 0.6), (Status.CLOSED, 95.4), (Status.CANCELLED, 4)]
        status = weighted(rng, mix)
        return weighted(rng, OPEN_MIX) if status == "open" else status

    def text(self, slug):
        rng = self.rng
        subjects, problems = WORDS[slug]
        title = f"{rng.choice(subjects)} {rng.choice(problems)}"
        if slug == "how-to":
            title += "?"
        site = rng.choice(SITES)
        asset = f"{rng.choice(['LT', 'PC', 'PR', 'MN'])}-{rng.randrange(10000, 99999)}"
        details = " ".join(rng.sample(DETAILS, rng.randint(1, 3)))
        description = f"Reported from the {site} office. {details} Asset tag {asset}."
        return title[:200], description

    def later(self, start, mean_seconds, cap):
        """A moment after `start`, exponentially distributed around `mean_seconds`, before `cap`."""
        moment = start + timedelta(
            seconds=max(30.0, self.rng.expovariate(1 / max(mean_seconds, 60)))
        )
        return min(moment, cap)

    def row(self, created_at):
        rng, now = self.rng, self.now
        slug = weighted(rng, self.category_pairs)
        category, version = self.categories[slug], self.versions[slug]
        impact, urgency = weighted(rng, IMPACT), weighted(rng, URGENCY)
        if slug == "outage":
            impact = 1 if rng.random() < 0.7 else 2
        service_slug = rng.choice(SERVICES_FOR[slug])
        service = self.services.get(service_slug) if service_slug else None
        channel = weighted(rng, CHANNELS)
        if slug in ("how-to", "security") and channel == Channel.ALERT:
            channel = Channel.WEB
        if channel == Channel.ALERT:
            reporter = created_by = self.monitoring
        else:
            reporter = rng.choice(self.reporters)
            created_by = rng.choice(self.desk_agents) if channel == Channel.PHONE else reporter
        title, description = self.text(slug)
        team = version.team
        if route is not None:  # the version's routing rules, as at registration
            decision = route(
                version, category=category, service=service, title=title, description=description,
                channel=channel, impact=impact,
            )  # fmt: skip
            team, impact = self.teams.get(decision.team_slug, team), decision.impact
        priority = priority_for(impact, urgency, self.matrix)
        overridden = rng.random() < 0.02
        if overridden:
            priority = min(5, max(1, priority + rng.choice((-1, 1))))
        escalation_level = 0
        if not version.is_security and rng.random() < 0.07:  # functional escalation to another team
            team = rng.choice([t for t in self.other_teams if t.pk != team.pk])
        if rng.random() < 0.05:
            escalation_level = 1 if rng.random() < 0.8 else 2
        age_days = (now - created_at).total_seconds() / DAY
        status = self.status_for(age_days)
        if status in (Status.RESOLVED, Status.CLOSED, Status.CANCELLED) and age_days < 0.05:
            status = Status.NEW

        held = 0
        if status in (Status.RESOLVED, Status.CLOSED) and rng.random() < 0.1:
            held = rng.randrange(1800, 2 * DAY)
        times = sla_fields(version, priority, created_at, held)
        response_due, resolve_due = times["response_due_at"], times["resolve_due_at"]
        response_target, resolution_target = version.targets_for(priority)

        assignee = acknowledged_at = resolved_at = closed_at = on_hold_since = None
        code = notes = cause = ""
        staff = self.staff.get(team.slug) or self.desk_agents
        if status != Status.NEW and not (status == Status.CANCELLED and rng.random() < 0.6):
            assignee = rng.choice(staff)
            acknowledged_at = self.later(created_at, response_target * 0.6, now)
        if status == Status.NEW and rng.random() < 0.3:
            acknowledged_at = self.later(created_at, response_target * 0.6, now)
        if status == Status.ON_HOLD:
            on_hold_since = self.later(acknowledged_at, resolution_target * 0.3, now)
        if status in (Status.RESOLVED, Status.CLOSED):
            resolved_at = self.later(acknowledged_at, resolution_target * 0.7 + held, now)
            code = rng.choice(RESOLUTION_CODES)
            notes = f"Resolved: {code.replace('-', ' ')}. {rng.choice(DETAILS)}"
            cause = rng.choice(
                [
                    "",
                    "",
                    "Configuration drift",
                    "Expired certificate",
                    "Hardware fault",
                    "User error",
                ]
            )
            if status == Status.CLOSED:
                closed_at = resolved_at + timedelta(seconds=rng.randrange(3600, 5 * DAY))
                if closed_at > now:
                    status, closed_at = Status.RESOLVED, None
        if status == Status.CANCELLED:
            closed_at = self.later(created_at, 4 * 3600, now)

        is_open = status in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD)
        response_breached = (acknowledged_at or (now if is_open else created_at)) > response_due
        resolution_breached = (resolved_at or (now if is_open else created_at)) > resolve_due
        updated_at = max(
            t for t in (created_at, acknowledged_at, on_hold_since, resolved_at, closed_at) if t
        )
        extra = dict(times)
        if "ack_seconds" in INCIDENT_FIELDS:  # the metric columns the services write
            extra |= milestone_fields(
                version, created_at, acknowledged_at, resolved_at, closed_at, held,
                handed_over=team.pk != version.team_id, level=assignee.sfia_level if assignee else None,
                escalations=(escalation_level > 0) + (team.pk != version.team_id),
            )  # fmt: skip
        if "escalation_policy" in INCIDENT_FIELDS:
            extra["escalation_policy"] = list(version.escalation or ())
        return Incident(
            **extra,
            title=title, description=description, reporter=reporter, created_by=created_by, channel=channel,
            category=category, service=service, impact=impact, urgency=urgency, priority=priority,
            priority_overridden=overridden, status=status, team=team, assignee=assignee, procedure_version=version,
            is_major=slug == "outage" and impact == 1 and rng.random() < 0.5, is_security=version.is_security,
            escalation_level=escalation_level,
            response_breached=response_breached, resolution_breached=resolution_breached, held_seconds=held,
            on_hold_since=on_hold_since, resolution_code=code, resolution_notes=notes, cause=cause,
            created_at=created_at, updated_at=updated_at, acknowledged_at=acknowledged_at,
            resolved_at=resolved_at, closed_at=closed_at,
        )  # fmt: skip


def copy_fields(model):
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def copy_rows(model, objects):
    """Stream unsaved model instances into the model's table with COPY, in this transaction."""
    fields = copy_fields(model)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    json_fields = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objects:
            copy.write_row(
                [
                    Jsonb(getattr(obj, f.attname)) if f.attname in json_fields else getattr(obj, f.attname)
                    for f in fields
                ]
            )


def drop_indexes(table):
    """Drop the table's indexes that back no constraint; return the statements that rebuild them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [table],
        )
        found = cursor.fetchall()
        for name, _definition in found:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    print(f"dataset: dropped {len(found)} indexes for the load", file=sys.stderr)
    return [definition for _name, definition in found]


NOTES = [
    "Called the reporter back; they can reproduce it on demand.",
    "Checked the logs: the same error every few minutes since 08:10.",
    "Waiting for the supplier to confirm the fault.",
    "Applied the workaround from the knowledge base; monitoring.",
    "Asked the reporter for a screenshot of the error.",
    "Escalation call held; next check in 30 minutes.",
]


def ensure_timelines(count, rng):
    """Give the `count` newest open incidents staff may see 50 timeline events each (notes
    and public updates by their team), so the detail page has a realistic history."""
    candidates = list(
        Incident.objects.filter(status__in=OPEN_STATUSES, is_security=False)
        .order_by("-created_at", "-id")
        .values_list("id", "created_at", "team_id")[:count]
    )
    have = set(
        TimelineEvent.objects.filter(incident_id__in=[c[0] for c in candidates])
        .values_list("incident_id")
        .annotate(n=Count("id"))
        .filter(n__gte=EVENTS_PER_TIMELINE)
        .values_list("incident_id", flat=True)
    )
    staff = {}
    for person_id, team_id in Person.objects.filter(role=Role.STAFF).values_list("id", "teams"):
        staff.setdefault(team_id, []).append(person_id)
    everyone = sorted({p for people in staff.values() for p in people})
    now, events = datetime.now(UTC), []
    for incident_id, created_at, team_id in candidates:
        if incident_id in have:
            continue
        people = staff.get(team_id) or everyone
        step = max((now - created_at) / (EVENTS_PER_TIMELINE + 1), timedelta(seconds=1))
        for n in range(1, EVENTS_PER_TIMELINE + 1):
            public = n % 5 == 0
            events.append(
                TimelineEvent(
                    incident_id=incident_id, at=created_at + step * n, actor_id=rng.choice(people),
                    kind=TimelineEvent.Kind.PUBLIC_UPDATE if public else TimelineEvent.Kind.NOTE,
                    data={"body": rng.choice(NOTES)}, is_public=public,
                )
            )  # fmt: skip
    with transaction.atomic():
        copy_rows(TimelineEvent, events)
    return len(events)


def milestone_fields(version, created_at, acknowledged_at, resolved_at, closed_at, held, *, handed_over, level, escalations):
    """The columns incidents.durations writes at each milestone, from the same calendar arithmetic."""
    calendar = version.calendar

    def wall(start, end):
        return int((end - start).total_seconds())

    def working(end, held=0):
        return max(0, sla.working_seconds_between(calendar, created_at, end) - held)

    out = {"escalation_count": escalations, "team_changes": int(handed_over)}
    if acknowledged_at:
        out |= {"ack_seconds": wall(created_at, acknowledged_at), "ack_working_seconds": working(acknowledged_at)}
    if resolved_at:
        out |= {
            "resolve_seconds": wall(created_at, resolved_at), "resolve_working_seconds": working(resolved_at, held),
            "resolved_level": level, "resolved_first_line": level in (1, 2) and not handed_over,
        }  # fmt: skip
        if closed_at:
            out["close_seconds"] = wall(resolved_at, closed_at)
    return out


def summary():
    by_status = dict(Incident.objects.values_list("status").annotate(n=Count("id")).order_by())
    infra = dict(
        Incident.objects.filter(team__slug="infrastructure")
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "incidents": sum(by_status.values()),
        "open": sum(
            by_status.get(s, 0)
            for s in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD)
        ),
        "by_status": by_status,
        "infrastructure_by_status": infra,
        "timeline_events": connection.cursor()
        .execute("SELECT count(*) FROM incidents_timelineevent")
        .fetchone()[0],
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument(
        "--timelines", type=int, default=200, help="open incidents to give 50 timeline events"
    )
    args = parser.parse_args()

    have = Incident.objects.count()
    need = args.target - have
    if need <= 0:
        print(f"dataset: {have} incidents already present, nothing to add", file=sys.stderr)
    else:
        started = time.monotonic()
        _memoise_working_intervals()
        ensure_people()
        rng = random.Random(args.seed + have)
        builder = Builder(rng, datetime.now(UTC).replace(microsecond=0))
        times = builder.created_times(need)
        dropped = drop_indexes(Incident._meta.db_table) if need > LARGE else []
        done = 0
        for offset in range(0, need, BATCH):
            rows = [builder.row(moment) for moment in times[offset : offset + BATCH]]
            with transaction.atomic():
                copy_rows(Incident, rows)
            done += len(rows)
            rate = done / max(time.monotonic() - started, 1e-9)
            eta = math.ceil((need - done) / rate) if rate else 0
            print(
                f"dataset: {have + done}/{args.target} incidents ({rate:.0f} rows/s, ~{eta}s left)",
                file=sys.stderr,
            )
        if dropped:
            rebuilt = time.monotonic()
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '256MB'")
                for definition in dropped:
                    cursor.execute(definition)
            print(
                f"dataset: {len(dropped)} indexes built in {time.monotonic() - rebuilt:.1f}s",
                file=sys.stderr,
            )
        print(
            f"dataset: added {need} incidents in {time.monotonic() - started:.1f}s", file=sys.stderr
        )
    added = ensure_timelines(args.timelines, random.Random(args.seed))
    print(f"dataset: {added} timeline events added", file=sys.stderr)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"dataset: VACUUM ANALYZE in {time.monotonic() - started:.1f}s", file=sys.stderr)
    print(json.dumps(summary()))


if __name__ == "__main__":
    main()
