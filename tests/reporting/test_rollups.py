"""The daily roll-ups answer exactly what the incidents answer (tests/reporting/scenario.py:
a month with time on hold, a reopened incident, a security incident, a cancelled duplicate
and an incident across the DST change), and stop answering for a day once an incident
registered on it changes, until the beat job rebuilds it."""

from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from incidents import services
from reporting import metrics, rollups
from reporting.metrics import GROUPS, Period, rolled_up_days, scoped_incidents
from reporting.models import MetricsDay, MetricsDayBuilt
from tests.reporting import scenario

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
SPRING = Period(date(2026, 1, 5), date(2026, 4, 30))  # over 92 days: the trend is weekly
AFTER = scenario.at(31, 23, 30)  # the month is over; the build sees every change before it
LATER = AFTER + timedelta(hours=1)


@pytest.fixture
def month(world):
    return scenario.build(world)


def _march_days():
    return {MARCH.start_date + timedelta(days=n) for n in range(MARCH.days)}


def _from_incidents(monkeypatch, **kwargs):
    with monkeypatch.context() as patched:
        patched.setattr(metrics, "rolled_up", lambda period, using, months=True: (set(), set()))
        return metrics.metrics(**kwargs)


def _viewers(world):
    security4 = world.person(4, world.security, username="sec4")
    return {"level 5": world.people[5], "level 4 infra": world.people[4], "level 4 security": security4}


@pytest.mark.parametrize("period", [MARCH, SPRING], ids=["days", "weeks"])
def test_the_roll_ups_answer_every_figure_as_the_incidents_do(month, world, monkeypatch, period):
    rollups.rebuild(period.start_date, period.end_date, now=AFTER)
    assert rolled_up_days(period, "default") == {period.start_date + timedelta(days=n) for n in range(period.days)}
    for who, person in _viewers(world).items():
        for group_by in (None, *GROUPS):
            rolled = metrics.metrics(actor=person, period=period, group_by=group_by)
            assert rolled == _from_incidents(monkeypatch, actor=person, period=period, group_by=group_by), (who, group_by)


def test_the_roll_ups_keep_the_security_wall_and_the_level_4_teams(month, world):
    rollups.rebuild(MARCH.start_date, MARCH.end_date, now=AFTER)
    assert MetricsDay.objects.filter(dimension="team", is_security=True).exists()
    everyone = metrics.metrics(actor=world.people[5], period=MARCH, group_by="team")
    assert (everyone["total"]["count"], {g["key"] for g in everyone["groups"]}) == (
        5, {"infrastructure", "security", "service-desk"},
    )  # fmt: skip
    infra4 = metrics.metrics(actor=world.people[4], period=MARCH, group_by="category")
    assert infra4["total"]["count"] == 3  # their team's three; never the security incident
    assert {g["key"] for g in infra4["groups"]} == {"hardware"}
    security4 = metrics.metrics(actor=world.person(4, world.security, username="sec4"), period=MARCH)
    assert security4["total"]["count"] == 1


def test_the_hand_worked_figures_hold_on_the_roll_ups(month, world):
    rollups.rebuild(MARCH.start_date, MARCH.end_date, now=AFTER)
    total = metrics.metrics(actor=world.people[5], period=MARCH)["total"]
    assert (total["count"], total["acknowledged"], total["resolved"]) == (5, 3, 3)
    assert total["mtta"]["wall"] == {"mean": 78100.0, "median": 1800.0, "p90": 186120.0}
    assert total["mttr"]["working"] == {"mean": 15600.0, "median": 10800.0, "p90": 25200.0}
    assert (total["reopen_rate_pct"], total["first_line_resolution_pct"]) == (33.3, 33.3)
    assert (total["major_incidents"], total["major_duration_mean"]) == (1, 14400.0)


def test_a_day_whose_incident_changed_is_read_from_the_incidents_until_rebuilt(month, world, monkeypatch):
    rollups.rebuild(MARCH.start_date, MARCH.end_date, now=AFTER)
    services.incident_start(actor=world.people[3], incident=month.open, now=LATER)  # registered 20 March
    assert rolled_up_days(MARCH, "default") == _march_days() - {date(2026, 3, 20)}
    rolled = metrics.metrics(actor=world.people[5], period=MARCH, group_by="team")
    assert rolled["total"]["acknowledged"] == 4  # the change counts at once
    assert rolled == _from_incidents(monkeypatch, actor=world.people[5], period=MARCH, group_by="team")
    # The beat job rebuilds that day alone (the rest are already built) and stamps them all.
    assert rollups.refresh(now=LATER + rollups.MARGIN + timedelta(minutes=1), keep_days=0) == 1
    assert rolled_up_days(MARCH, "default") == _march_days()
    assert metrics.metrics(actor=world.people[5], period=MARCH, group_by="team") == rolled
    assert set(MetricsDayBuilt.objects.values_list("built_at", flat=True)) == {LATER + timedelta(minutes=1)}


def test_the_beat_job_fills_the_recent_days_a_few_at_a_time_and_is_idempotent(month, world, monkeypatch):
    now = scenario.at(31, 12)
    assert rollups.refresh(now=now, keep_days=31, fill=20) == 20
    assert rollups.refresh(now=now, keep_days=31, fill=20) == 11
    assert rollups.refresh(now=now, keep_days=31, fill=20) == 0
    assert MetricsDayBuilt.objects.count() == 31
    rows = MetricsDay.objects.count()
    rollups.rebuild(MARCH.start_date, MARCH.end_date, now=now)  # a rebuild replaces, never adds
    assert MetricsDay.objects.count() == rows
    # Every incident counts once per grouping: the day rows of any dimension add up.
    for dimension in rollups.DIMENSIONS:
        assert sum(MetricsDay.objects.filter(dimension=dimension).values_list("count", flat=True)) == 5


def test_days_built_in_another_time_zone_are_not_used_and_the_job_rebuilds_them(month, world, monkeypatch, settings):
    rollups.rebuild(MARCH.start_date, MARCH.end_date, now=AFTER)
    settings.TIME_ZONE = "Europe/London"  # the clocks go forward on 29 March: a 23-hour day
    assert rolled_up_days(MARCH, "default") == set()
    assert rollups.refresh(now=AFTER, keep_days=0) == 31
    assert set(MetricsDayBuilt.objects.values_list("time_zone", flat=True)) == {"Europe/London"}
    assert rolled_up_days(MARCH, "default") == _march_days()
    for group_by in (None, "team", "level"):
        rolled = metrics.metrics(actor=world.people[5], period=MARCH, group_by=group_by)
        assert rolled == _from_incidents(monkeypatch, actor=world.people[5], period=MARCH, group_by=group_by)
    # The DST incident was registered on Friday 27 March at 16:00 GMT, 16:00 in London too.
    assert MetricsDay.objects.get(dimension="level", key="2").day == date(2026, 3, 27)


def test_a_period_partly_rolled_up_adds_the_incidents_rest(month, world, monkeypatch):
    rollups.rebuild(date(2026, 3, 1), date(2026, 3, 10), now=AFTER)
    assert len(rolled_up_days(MARCH, "default")) == 10
    for group_by in (None, "procedure", "service"):
        rolled = metrics.metrics(actor=world.people[5], period=MARCH, group_by=group_by)
        assert rolled == _from_incidents(monkeypatch, actor=world.people[5], period=MARCH, group_by=group_by)


def test_rebuild_metrics_rebuilds_a_range_and_refuses_bad_dates(month, capsys):
    call_command("rebuild_metrics", "--from", "2026-03-01", "--to", "2026-03-31")
    assert "31 days, 2026-03-01 to 2026-03-31" in capsys.readouterr().out
    assert MetricsDayBuilt.objects.count() == 31
    with pytest.raises(CommandError, match="--to must be on or after --from"):
        call_command("rebuild_metrics", "--from", "2026-03-31", "--to", "2026-03-01")
    with pytest.raises(CommandError, match="--from: enter a date as YYYY-MM-DD"):
        call_command("rebuild_metrics", "--from", "31/03/2026", "--to", "2026-03-31")
    assert MetricsDayBuilt.objects.count() == 31


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_roll_up_reads_go_to_the_reporting_database_when_there_is_one(month, world):
    rollups.rebuild(MARCH.start_date, MARCH.end_date, now=AFTER)
    with override_settings(DATABASES={"default": connection.settings_dict, "reporting": connection.settings_dict}):
        using = scoped_incidents(world.people[5]).db
        assert using == "reporting"
        assert metrics.rollup_rows("team", _march_days(), {}, using).db == "reporting"
        # The test run has no such connection: the roll-up reads really do ask for it.
        with pytest.raises(Exception, match="reporting"):
            rolled_up_days(MARCH, using)
    assert metrics.rollup_rows("team", _march_days(), {}, scoped_incidents(world.people[5]).db).db == "default"


def test_beat_runs_the_roll_up_job_every_five_minutes_on_the_sweeps_queue(month):
    from types import SimpleNamespace

    from reporting.tasks import refresh_metrics_rollups
    from servicedesk.celery import _schedule, app

    sender = SimpleNamespace(conf=SimpleNamespace(beat_schedule=None))
    _schedule(sender)
    entry = sender.conf.beat_schedule["refresh-metrics-rollups"]
    assert (entry["task"], entry["schedule"]) == ("reporting.tasks.refresh_metrics_rollups", 300.0)
    assert app.conf.task_routes["reporting.tasks.refresh_metrics_rollups"] == {"queue": "sweeps"}
    assert refresh_metrics_rollups() == rollups.FILL_PER_RUN  # the newest days first, a month a run
    assert MetricsDayBuilt.objects.count() == rollups.FILL_PER_RUN
