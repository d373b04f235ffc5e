"""The percentiles from the monthly histograms (reporting.percentiles) are exactly
PostgreSQL's `percentile_cont` over the incidents: seeded random desks with ties, zeros,
missing values, huge values and values on the buckets' bounds, every grouping, level 4 and
5 and the security team, periods with partial months at both edges."""

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, Status
from procedures.models import Channel
from reporting import metrics, percentiles, rollups
from reporting.metrics import GROUPS, Period, rolled_up_months, scoped_incidents
from reporting.models import MetricsMonth, MetricsMonthBuilt
from reporting.percentiles import BOUNDS, COLUMNS, bucket_of, bucket_range
from tests.reporting import scenario

BUILT = datetime(2026, 5, 2, tzinfo=UTC)  # January to April are over
PERIODS = {
    "edges": Period(date(2026, 1, 17), date(2026, 4, 9)),  # February and March whole, two partial months
    "whole months": Period(date(2026, 2, 1), date(2026, 3, 31)),
    "one month and a day": Period(date(2026, 2, 28), date(2026, 3, 31)),
}
STATUSES = [Status.NEW, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED, Status.CANCELLED]


def _duration(rng):
    """None, small values (one-second buckets), ties, bounds, huge values, or spread out."""
    pick = rng.random()
    if pick < 0.1:
        return None
    if pick < 0.2:
        return rng.randrange(0, 30)
    if pick < 0.3:
        return rng.choice([3600, 28800, 86400])  # ties in wide buckets
    if pick < 0.35:
        bound = rng.choice(BOUNDS[20:])
        return min(bound + rng.choice([-1, 0, 1]), 2**31 - 1)
    if pick < 0.37:
        return rng.randrange(2**30, 2**31)
    return int(rng.expovariate(1 / rng.choice([600, 7200, 90000])))


def _desk(world, seed, n=900):
    """`n` incidents registered between mid-December and early May, spread over every
    grouping's values, with random durations."""
    rng = random.Random(seed)
    templates = [world.incident(), world.incident(category=world.security_category)]
    teams = [world.desk.pk, world.infra.pk, world.apps.pk, world.security.pk, None]
    start = datetime(2025, 12, 15, tzinfo=UTC)
    skip = {"id", "registration_key", "public_id"}
    rows = []
    for _ in range(n):
        source = templates[rng.random() < 0.2]
        incident = Incident(
            **{f.attname: getattr(source, f.attname) for f in Incident._meta.concrete_fields if f.attname not in skip}
        )
        incident.created_at = incident.updated_at = start + timedelta(seconds=rng.uniform(0, 140 * 86400))
        incident.team_id = rng.choice(teams)
        incident.service_id = rng.choice([world.service.pk, None])
        incident.channel = rng.choice(Channel.values)
        incident.priority = rng.randint(1, 5)
        incident.resolved_level = rng.choice([None, 1, 2, 3, 4, 5])
        incident.status = rng.choice(STATUSES)
        incident.is_security = source.is_security or rng.random() < 0.05
        for column in COLUMNS:
            setattr(incident, column, _duration(rng))
        rows.append(incident)
    Incident.objects.bulk_create(rows)


def _viewers(world):
    security4 = world.person(4, world.security, username="sec4")
    return {"level 5": world.people[5], "level 4 infra": world.people[4], "level 4 security": security4}


def _from_incidents(monkeypatch, **kwargs):
    with monkeypatch.context() as patched:
        patched.setattr(metrics, "rolled_up", lambda period, using, months=True: (set(), set()))
        return metrics.metrics(**kwargs)


def _sorted(registered, group_by):
    """percentile_cont over the cohort, unrounded: the figures to match."""
    column = GROUPS[group_by or "team"].column
    return metrics._percentiles(registered, column, group_by is not None, True)


def _histograms(registered, period, group_by, scope):
    months = rolled_up_months(period, registered.db)
    assert months, "the histograms must answer for some month"
    return metrics._percentiles_from_months(registered, period, months, GROUPS[group_by or "team"], group_by, scope)


def test_the_bounds_grow_by_at_most_growth_and_postgresql_buckets_as_python_does(db):
    assert BOUNDS[:3] == (0, 1, 2) and BOUNDS[-1] < 2**31 <= BOUNDS[-1] * percentiles.GROWTH + 1
    for low, high in zip(BOUNDS, BOUNDS[1:], strict=False):
        assert low < high and (high - low == 1 or high <= low * percentiles.GROWTH)
    values = sorted({max(0, min(v, 2**31 - 1)) for b in BOUNDS for v in (b - 1, b, b + 1)})
    with connection.cursor() as cursor:
        cursor.execute("SELECT v, width_bucket(v, %s::int[]) FROM unnest(%s::int[]) v", [list(BOUNDS), values])
        assert {v: b for v, b in cursor.fetchall()} == {v: bucket_of(v) for v in values}
    assert [bucket_range(bucket_of(v)) for v in (0, 1, 20, 21, 2**31 - 1)] == [
        (0, 1), (1, 2), (20, 21), (21, 22), (BOUNDS[-1], 2**31),
    ]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_histograms_give_percentile_cont_to_the_last_bit(world, seed):
    _desk(world, seed)
    rollups.rebuild(date(2025, 12, 1), date(2026, 4, 30), now=BUILT)
    for who, person in _viewers(world).items():
        scope = metrics.rollup_scope(person)
        for name, period in PERIODS.items():
            registered = metrics.cohort(scoped_incidents(person), period)
            for group_by in (None, *GROUPS):
                expected = _sorted(registered, group_by)
                assert _histograms(registered, period, group_by, scope) == expected, (who, name, group_by)


def test_the_metrics_are_the_same_from_the_histograms_and_from_the_incidents(world, monkeypatch):
    _desk(world, 4)
    rollups.rebuild(date(2025, 12, 1), date(2026, 4, 30), now=BUILT)
    calls = []
    real = percentiles.exact
    monkeypatch.setattr(percentiles, "exact", lambda *a, **k: calls.append(1) or real(*a, **k))
    for who, person in _viewers(world).items():
        for group_by in (None, *GROUPS):
            rolled = metrics.metrics(actor=person, period=PERIODS["edges"], group_by=group_by)
            plain = _from_incidents(monkeypatch, actor=person, period=PERIODS["edges"], group_by=group_by)
            assert rolled == plain, (who, group_by)
    assert len(calls) == 3 * (1 + len(GROUPS))  # every case took the histograms' path


def test_the_histograms_path_takes_a_bounded_number_of_queries(world):
    _desk(world, 5)
    rollups.rebuild(date(2025, 12, 1), date(2026, 4, 30), now=BUILT)
    metrics.metrics(actor=world.people[5], period=PERIODS["edges"])  # the person's teams, cached
    for group_by in (None, "service", "procedure"):
        with CaptureQueriesContext(connection) as queries:
            metrics.metrics(actor=world.people[5], period=PERIODS["edges"], group_by=group_by)
        # savepoint and release, work_mem; the days and months built, what changed since;
        # the days' roll-up rows, the months' histograms, the edges' histogram, the
        # buckets' values (one statement for the four columns); the backlog (and the
        # labels of groups it does not name)
        assert len(queries) <= 11, [q["sql"][:60] for q in queries.captured_queries]
        assert sum("width_bucket" in q["sql"] for q in queries.captured_queries) == 2


def test_a_month_whose_incident_changed_is_read_from_the_incidents_until_rebuilt(world):
    _desk(world, 6)
    rollups.rebuild(date(2025, 12, 1), date(2026, 4, 30), now=BUILT)
    period = PERIODS["edges"]
    assert rolled_up_months(period, "default") == {date(2026, 2, 1), date(2026, 3, 1)}
    changed = Incident.objects.filter(created_at__month=3, resolve_seconds__isnull=False).first()
    later = BUILT + timedelta(hours=1)
    Incident.objects.filter(pk=changed.pk).update(resolve_seconds=changed.resolve_seconds + 7777, updated_at=later)
    assert rolled_up_months(period, "default") == {date(2026, 2, 1)}
    registered = metrics.cohort(scoped_incidents(world.people[5]), period)
    for group_by in (None, "team"):
        assert _histograms(registered, period, group_by, {}) == _sorted(registered, group_by)
    # The beat job rebuilds March alone, and stamps February as checked.
    rollups.refresh(now=later + rollups.MARGIN + timedelta(minutes=1), keep_days=0)
    assert rolled_up_months(period, "default") == {date(2026, 2, 1), date(2026, 3, 1)}
    assert set(MetricsMonthBuilt.objects.values_list("built_at", flat=True)) == {later + timedelta(minutes=1)}
    for group_by in (None, "team"):
        assert _histograms(registered, period, group_by, {}) == _sorted(registered, group_by)


def test_a_bucket_that_disagrees_with_its_count_falls_back_to_sorting(world, monkeypatch):
    _desk(world, 7)
    rollups.rebuild(date(2025, 12, 1), date(2026, 4, 30), now=BUILT)
    period = PERIODS["whole months"]
    registered = metrics.cohort(scoped_incidents(world.people[5]), period)
    # An incident changed behind the services' back (no updated_at): its month's rows
    # still count it where it was.
    values = sorted(registered.exclude(resolve_seconds__isnull=True).values_list("resolve_seconds", flat=True))
    median = values[(len(values) - 1) // 2]
    assert bucket_range(bucket_of(median))[1] - bucket_range(bucket_of(median))[0] > 1
    moved = registered.filter(resolve_seconds=median).first()
    Incident.objects.filter(pk=moved.pk).update(resolve_seconds=10)
    assert histograms_exact(registered, period) is None
    now_sorted = _sorted(registered, None)[metrics.TOTAL]
    figures = metrics.metrics(actor=world.people[5], period=period)["total"]
    assert figures["mttr"]["wall"] == {
        "mean": figures["mttr"]["wall"]["mean"],
        "median": metrics._round(now_sorted["mttr_wall_median"]),
        "p90": metrics._round(now_sorted["mttr_wall_p90"]),
    }


def histograms_exact(registered, period):
    months = rolled_up_months(period, registered.db)
    return percentiles.exact(
        registered, [], column="team_id", grouped=False, dimension="team", months=months, scope={},
        fractions=[0.5, 0.9], using=registered.db,
    )  # fmt: skip


def test_the_histograms_count_every_value_once_per_grouping(world):
    _desk(world, 8)
    rollups.rebuild(date(2026, 2, 1), date(2026, 2, 28), now=BUILT)
    february = Incident.objects.filter(
        created_at__gte=datetime(2026, 2, 1, tzinfo=UTC), created_at__lt=datetime(2026, 3, 1, tzinfo=UTC)
    ).exclude(status=Status.CANCELLED)
    for dimension, field in rollups.DIMENSIONS.items():
        expected = Counter()
        for row in february.values(field, "team_id", "is_security", *COLUMNS):
            for column, count in COLUMNS.items():
                if row[column] is not None:
                    key = rollups.key_of(row[field])
                    expected[(key, row["team_id"], row["is_security"], bucket_of(row[column]), count)] += 1
        found, whole = Counter(), Counter()
        for row in MetricsMonth.objects.filter(dimension=dimension, month=date(2026, 2, 1)).values():
            for count in COLUMNS.values():
                if row[count] and row["is_security"] is None:
                    assert row["team_id"] is None
                    whole[(row["key"], row["bucket"], count)] += row[count]
                elif row[count]:
                    found[(row["key"], row["team_id"], row["is_security"], row["bucket"], count)] += row[count]
        assert found == expected, dimension
        summed = Counter()
        for (key, _, _, bucket, count), n in expected.items():
            summed[(key, bucket, count)] += n
        assert whole == summed, dimension


def test_only_months_that_are_over_are_built_and_the_command_builds_each_once(world, capsys):
    _desk(world, 9, n=200)
    rollups.rebuild(date(2026, 4, 20), date(2026, 5, 3), now=BUILT)  # May is not over
    assert set(MetricsMonthBuilt.objects.values_list("month", flat=True)) == {date(2026, 4, 1)}
    with CaptureQueriesContext(connection) as queries:
        call_command("rebuild_metrics", "--from", "2026-01-15", "--to", "2026-03-10")
    assert "55 days, 2026-01-15 to 2026-03-10" in capsys.readouterr().out
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "reporting_metricsmonth"')]
    assert len(inserts) == 3 * 2 * len(rollups.DIMENSIONS)  # January, February, March: once each (split, whole)
    assert set(MetricsMonthBuilt.objects.values_list("month", flat=True)) == {
        date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1),
    }  # fmt: skip


def test_the_beat_job_fills_the_months_that_are_over_one_a_run_newest_first(world, settings):
    _desk(world, 10, n=200)
    now = datetime(2026, 4, 10, 12, tzinfo=UTC)
    assert rollups.refresh(now=now, keep_days=100, fill=0) == 0
    assert list(MetricsMonthBuilt.objects.values_list("month", flat=True)) == [date(2026, 3, 1)]
    rollups.refresh(now=now, keep_days=100, fill=0)
    rollups.refresh(now=now, keep_days=100, fill=0)
    rollups.refresh(now=now, keep_days=100, fill=0)  # 100 days back reach January, no further
    assert set(MetricsMonthBuilt.objects.values_list("month", flat=True)) == {
        date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1),
    }  # fmt: skip
    rows = MetricsMonth.objects.count()
    settings.TIME_ZONE = "Europe/London"  # months built in another time zone are rebuilt
    assert rolled_up_months(Period(date(2026, 1, 1), date(2026, 3, 31)), "default") == set()
    rollups.refresh(now=now, keep_days=100, fill=0)
    assert set(MetricsMonthBuilt.objects.values_list("time_zone", flat=True)) == {"Europe/London"}
    assert len(rolled_up_months(Period(date(2026, 1, 1), date(2026, 3, 31)), "default")) == 3
    assert MetricsMonth.objects.count() == pytest.approx(rows, rel=0.1)  # replaced, never added


def test_months_built_with_other_bounds_are_not_read(world):
    _desk(world, 11, n=100)
    rollups.rebuild(date(2026, 2, 1), date(2026, 2, 28), now=BUILT)
    period = Period(date(2026, 2, 1), date(2026, 2, 28))
    assert rolled_up_months(period, "default") == {date(2026, 2, 1)}
    MetricsMonthBuilt.objects.update(buckets="log1.1/230")
    assert rolled_up_months(period, "default") == set()


@pytest.mark.django_db(transaction=True)
def test_the_metrics_read_one_snapshot(world, monkeypatch):
    _desk(world, 12, n=200)
    rollups.rebuild(date(2026, 2, 1), date(2026, 3, 31), now=BUILT)
    seen = []
    real = percentiles.exact

    def spy(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            seen.append(cursor.fetchone()[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(percentiles, "exact", spy)
    metrics.metrics(actor=world.people[5], period=PERIODS["whole months"])
    assert seen == ["repeatable read"]
    with transaction.atomic():  # inside someone else's transaction: theirs to choose
        metrics.metrics(actor=world.people[5], period=PERIODS["whole months"])
    assert seen == ["repeatable read", "read committed"]


def test_the_hand_worked_figures_hold_on_the_histograms(world, monkeypatch):
    scenario.build(world)  # tests/reporting/test_metrics_figures.py works every figure out
    march = Period(date(2026, 3, 1), date(2026, 3, 31))
    rollups.rebuild(march.start_date, march.end_date, now=scenario.at(31, 23, 30) + timedelta(hours=2))
    assert rolled_up_months(march, "default") == {date(2026, 3, 1)}
    calls = []
    real = percentiles.exact
    monkeypatch.setattr(percentiles, "exact", lambda *a, **k: calls.append(1) or real(*a, **k))
    total = metrics.metrics(actor=world.people[5], period=march)["total"]
    assert total["mtta"] == {
        "wall": {"mean": 78100.0, "median": 1800.0, "p90": 186120.0},
        "working": {"mean": 2500.0, "median": 1800.0, "p90": 4680.0},
    }
    assert total["mttr"] == {
        "wall": {"mean": 93600.0, "median": 14400.0, "p90": 207360.0},
        "working": {"mean": 15600.0, "median": 10800.0, "p90": 25200.0},
    }
    by_team = {g["key"]: g for g in metrics.metrics(actor=world.people[5], period=march, group_by="team")["groups"]}
    assert by_team["service-desk"]["mttr"]["working"] == {"mean": 28800.0, "median": 28800.0, "p90": 28800.0}
    assert by_team["infrastructure"]["mttr"]["wall"]["median"] == 12600.0  # (10800 + 14400) / 2
    assert len(calls) == 2
    for who, person in _viewers(world).items():
        for group_by in (None, *GROUPS):
            rolled = metrics.metrics(actor=person, period=march, group_by=group_by)
            assert rolled == _from_incidents(monkeypatch, actor=person, period=march, group_by=group_by), (who, group_by)
