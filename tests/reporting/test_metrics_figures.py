"""Every figure of the metrics against one worked out by hand (tests/reporting/scenario.py).

Acknowledged (wall / working seconds):
  held      10:00 -> 10:30 on 24x7                      1800 / 1800
  dst       Fri 16:00 GMT -> Mon 08:30 UTC (09:30 BST)  232200 / 3600 + 1800 = 5400
  reopened  09:00 -> 09:05                              300 / 300
Resolved (wall / working, time on hold left out of working time):
  held      10:00 -> 14:00, on hold 11:00-13:00         14400 / 7200
  dst       Fri 16:00 -> Mon 15:00 UTC (16:00 BST)      255600 / 3600 + 7 h = 28800
  reopened  09:00 -> 12:00 (its second resolution)      10800 / 10800
percentile_cont: p90 of three sorted values a <= b <= c is b + 0.8 (c - b).
"""

import pytest

from incidents.models import Incident
from reporting.metrics import Period, metrics
from tests.reporting import scenario

MARCH = Period(scenario.at(1, 0).date(), scenario.at(31, 0).date())


@pytest.fixture
def month(world):
    return scenario.build(world)


def test_the_milestone_columns_hold_the_hand_worked_durations(month):
    rows = {i.pk: i for i in Incident.objects.all()}
    held, dst, reopened = rows[month.held.pk], rows[month.dst.pk], rows[month.reopened.pk]
    assert (held.ack_seconds, held.ack_working_seconds) == (1800, 1800)
    assert (held.resolve_seconds, held.resolve_working_seconds) == (14400, 7200)
    assert (dst.ack_seconds, dst.ack_working_seconds) == (232200, 5400)
    assert (dst.resolve_seconds, dst.resolve_working_seconds) == (255600, 28800)
    assert (dst.resolved_level, dst.resolved_first_line) == (2, True)
    assert (reopened.resolve_seconds, reopened.resolve_working_seconds) == (10800, 10800)
    assert (reopened.reopen_count, reopened.escalation_count, reopened.resolved_level) == (1, 1, 3)
    assert reopened.resolved_first_line is False


def test_the_process_owner_sees_every_figure_as_worked_out_by_hand(month, world):
    total = metrics(actor=world.people[5], period=MARCH)["total"]
    assert total["count"] == 5  # the cancelled duplicate is not an incident
    assert (total["acknowledged"], total["resolved"]) == (3, 3)
    assert total["mtta"] == {
        "wall": {"mean": 78100.0, "median": 1800.0, "p90": 186120.0},
        "working": {"mean": 2500.0, "median": 1800.0, "p90": 4680.0},
    }
    assert total["mttr"] == {
        "wall": {"mean": 93600.0, "median": 14400.0, "p90": 207360.0},
        "working": {"mean": 15600.0, "median": 10800.0, "p90": 25200.0},
    }
    assert total["response_sla_met_pct"] == 66.7  # held answered after 30 min on a 20 min target
    assert total["resolution_sla_met_pct"] == 100.0
    assert total["breaches"] == 1
    assert (total["escalations"], total["escalated_incidents"]) == (1, 1)
    assert total["reopen_rate_pct"] == 33.3
    assert total["first_line_resolution_pct"] == 33.3
    assert (total["major_incidents"], total["major_duration_mean"]) == (1, 14400.0)
    # Unresolved at 1 April 00:00: opened 20 March (12 days) and 5 March (27 days).
    assert total["backlog"] == {"under_1d": 0, "1d_to_7d": 0, "7d_to_30d": 2, "over_30d": 0}
    assert [(p["period"], p["count"]) for p in total["trend"]] == [
        ("2026-03-02", 1), ("2026-03-03", 1), ("2026-03-05", 1), ("2026-03-20", 1), ("2026-03-27", 1),
    ]  # fmt: skip


def test_grouped_by_team_and_by_the_level_that_resolved(month, world):
    by_team = {g["key"]: g for g in metrics(actor=world.people[5], period=MARCH, group_by="team")["groups"]}
    assert {k: g["count"] for k, g in by_team.items()} == {"infrastructure": 3, "security": 1, "service-desk": 1}
    assert by_team["service-desk"]["mttr"]["working"] == {"mean": 28800.0, "median": 28800.0, "p90": 28800.0}
    assert by_team["infrastructure"]["mttr"]["wall"]["median"] == 12600.0  # (10800 + 14400) / 2
    assert by_team["infrastructure"]["backlog"]["7d_to_30d"] == 1
    by_level = {g["key"]: g for g in metrics(actor=world.people[5], period=MARCH, group_by="level")["groups"]}
    assert {k: g["count"] for k, g in by_level.items()} == {"level 2": 1, "level 3": 2, "(none)": 2}
    assert by_level["level 2"]["first_line_resolution_pct"] == 100.0
    assert by_level["level 3"]["first_line_resolution_pct"] == 0.0


def test_level_4_sees_only_their_teams_and_never_the_security_incident(month, world):
    result = metrics(actor=world.people[4], period=MARCH, group_by="team")
    assert result["total"]["count"] == 3
    assert [g["key"] for g in result["groups"]] == ["infrastructure"]
    assert result["total"]["backlog"]["7d_to_30d"] == 1


def test_below_level_4_there_are_no_figures(month, world):
    assert metrics(actor=world.people[3], period=MARCH)["total"]["count"] == 0


def test_a_period_before_the_incidents_counts_them_in_the_backlog_only_once_registered(month, world):
    early = Period(scenario.at(1, 0).date(), scenario.at(4, 0).date())  # ends 5 March 00:00
    total = metrics(actor=world.people[5], period=early)["total"]
    assert total["count"] == 2
    assert total["backlog"] == {"under_1d": 0, "1d_to_7d": 0, "7d_to_30d": 0, "over_30d": 0}
