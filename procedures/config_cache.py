"""The configuration tables (categories, services, teams, procedures and their versions,
calendars), held in each process and read from the database only when they changed.

Every incident a page or the API shows names its category, service, team and procedure
version; reading those small tables again for every request cost four queries a page.
Here they are read once and kept with a stamp: `procedures_configstamp` holds one random
value that a database trigger replaces whenever any of those tables is written (through
the services, the admin, a migration or plain SQL; migration 0005). A process compares
the stamp once per request or task (`begin`/`end`, wired in ProceduresConfig.ready) and
reloads everything when it moved, so a change committed anywhere is seen by every process
on its next request. Outside a request or task (shell, commands, tests calling services)
the stamp is compared on every use.

The stamp is random rather than a counter so that a change rolled back can never be
mistaken for a later one (tests roll back constantly). Rows handed out are copies, one per
use: a caller that changes an attribute changes only its own."""

import contextvars
import copy
import threading

from django.db import connection

from procedures.models import (
    Calendar,
    Category,
    PriorityMatrix,
    Procedure,
    ProcedureVersion,
    Service,
)
from skills.models import Team

# The tables whose changes move the stamp (migration 0005 puts the trigger on each).
WATCHED_TABLES = (
    Calendar._meta.db_table,
    Category._meta.db_table,
    Procedure._meta.db_table,
    ProcedureVersion._meta.db_table,
    Service._meta.db_table,
    Team._meta.db_table,
    PriorityMatrix._meta.db_table,
)

STAMP_SQL = "SELECT value FROM procedures_configstamp WHERE id = 1"  # ConfigStamp (tested)

# Within a request or task: has the stamp been compared yet? None outside one.
_unit = contextvars.ContextVar("config_cache_unit", default=None)
_lock = threading.Lock()


class Snapshot:
    """One consistent reading of the configuration tables."""

    def __init__(self, stamp):
        self.stamp = stamp
        teams = {team.pk: team for team in Team.objects.all()}
        services = {service.pk: service for service in Service.objects.all()}
        procedures = {procedure.pk: procedure for procedure in Procedure.objects.all()}
        calendars = {calendar.pk: calendar for calendar in Calendar.objects.all()}
        categories = {category.pk: category for category in Category.objects.all()}
        versions = {version.pk: version for version in ProcedureVersion.objects.all()}
        for category in categories.values():
            Category.procedure.field.set_cached_value(category, procedures[category.procedure_id])
        for version in versions.values():
            ProcedureVersion.procedure.field.set_cached_value(version, procedures[version.procedure_id])
            ProcedureVersion.calendar.field.set_cached_value(version, calendars[version.calendar_id])
            ProcedureVersion.team.field.set_cached_value(version, teams[version.team_id])
        self.by_id = {Team: teams, Service: services, Category: categories, ProcedureVersion: versions}
        self.published = {
            version.procedure_id: version
            for version in versions.values()
            if version.state == ProcedureVersion.State.PUBLISHED
        }
        matrix = PriorityMatrix.objects.order_by("-pk").values_list("matrix", flat=True).first()
        self.matrix = (
            None if matrix is None else {(int(i), int(u)): p for i, columns in matrix.items() for u, p in columns.items()}
        )
        self.by_slug = {
            model: {row.slug: row for row in rows.values()}
            for model, rows in self.by_id.items()
            if model is not ProcedureVersion
        }


_snapshot = None


def read_stamp():
    """The stamp as it is in the database now (None when its row is missing, say after a
    flush: then nothing is kept)."""
    with connection.cursor() as cursor:
        cursor.execute(STAMP_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


def _reload(stamp):
    global _snapshot
    fresh = Snapshot(stamp)
    with _lock:
        if stamp is not None:
            _snapshot = fresh
    return fresh


def snapshot():
    """The configuration as it stands, reading the stamp once per request or task."""
    unit = _unit.get()
    current = _snapshot
    if unit is not None and unit["checked"] and current is not None:
        return current
    stamp = read_stamp()
    if unit is not None:
        unit["checked"] = True
    if current is not None and stamp is not None and current.stamp == stamp:
        return current
    return _reload(stamp)


def forget():
    """Drop what this process holds (tests; a process that knows the tables changed)."""
    global _snapshot
    with _lock:
        _snapshot = None


def begin(**kwargs):
    """A request or task starts: compare the stamp again at the first use."""
    _unit.set({"checked": False})


def end(**kwargs):
    _unit.set(None)


def get(model, pk):
    """A copy of one row by id, or None when it does not exist (a row made after the
    stamp was read in this request is found by reading again)."""
    if pk is None:
        return None
    found = snapshot().by_id[model].get(pk)
    if found is None:
        found = _reload(read_stamp()).by_id[model].get(pk)
    return copy.copy(found) if found is not None else None


def by_slug(model, slug):
    """A copy of one category, service or team by slug, or None."""
    found = snapshot().by_slug[model].get(slug)
    return copy.copy(found) if found is not None else None


def published_version(procedure_id):
    """A copy of the procedure's published version (with its procedure, team and calendar),
    or None."""
    found = snapshot().published.get(procedure_id)
    return copy.copy(found) if found is not None else None


def priority_matrix():
    """The configured matrix as {(impact, urgency): priority}, or None when there is none."""
    matrix = snapshot().matrix
    return dict(matrix) if matrix is not None else None


class Attacher:
    """Sets an incident's category, service, team and procedure version from the
    snapshot, one copy of each row per Attacher (a page shares them), so no query is
    made for them. A row the snapshot does not have is left to Django to read."""

    FIELDS = (("category", Category), ("service", Service), ("team", Team), ("procedure_version", ProcedureVersion))

    def __init__(self, model):
        self.snapshot = snapshot()
        self.fields = [(model._meta.get_field(name), related) for name, related in self.FIELDS]
        self.copies = {}

    def _row(self, related, pk):
        key = (related, pk)
        row = self.copies.get(key)
        if row is None:
            found = self.snapshot.by_id[related].get(pk)
            if found is None:
                return None
            row = self.copies[key] = copy.copy(found)
        return row

    def __call__(self, instance):
        for field, related in self.fields:
            pk = getattr(instance, field.attname)
            if pk is not None and not field.is_cached(instance):
                row = self._row(related, pk)
                if row is not None:
                    field.set_cached_value(instance, row)
        return instance
