import csv
import io

import pytest
from django.db import connection
from django.test import override_settings

from incidents.models import Incident
from reporting.metrics import Period, metrics, scoped_incidents
from servicedesk.routers import ReportingRouter
from tests.reporting import scenario

URL = "/api/v1/metrics/"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def month(world):
    return scenario.build(world)


def test_the_process_owner_gets_the_figures_grouped(month, world, api, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = api(world.people[5]).get(URL, {**MARCH, "group_by": "procedure"})
    assert response.status_code == 200
    body = response.json()
    assert body["total"]["count"] == 5
    assert {g["key"]: g["count"] for g in body["groups"]} == {"hardware v1": 3, "how-to v1": 1, "security v1": 1}
    assert body["trend_unit"] == "day"


def test_level_4_sees_their_teams_figures(month, world, api):
    body = api(world.people[4]).get(URL, MARCH).json()
    assert body["total"]["count"] == 3


def test_level_3_is_refused_naming_the_action(month, world, api):
    response = api(world.people[3]).get(URL, MARCH)
    assert response.status_code == 403
    assert "view metrics" in response.json()["detail"]


def test_csv_has_a_row_per_group_and_the_total(month, world, api):
    response = api(world.people[5]).get(URL, {**MARCH, "group_by": "channel", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["group"], r["count"]) for r in rows] == [("web", "5"), ("total", "5")]
    assert rows[-1]["mttr_working_median"] == "10800.0"
    assert rows[-1]["backlog_7d_to_30d"] == "2"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-01", "to": "2026-03-31", "group_by": "colour"}, "group_by"),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "to"),
        ({"from": "2026-03-01"}, "to"),
        ({"to": "2026-03-01"}, "from"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, "to"),
        ({"from": "2026-13-01", "to": "2026-12-31"}, "from"),
        ({"from": "1 March", "to": "2026-12-31"}, "from"),
        ({"from": "2026-03-01", "to": "2026-03-01T00:00"}, "to"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(world, api, params, field):
    response = api(world.people[5]).get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_five_years_exactly_is_allowed(world, api):
    assert api(world.people[5]).get(URL, {"from": "2020-01-01", "to": "2024-12-31"}).status_code == 200


def test_a_bad_parameter_in_csv_is_still_a_json_400_naming_it(world, api):
    response = api(world.people[5]).get(URL, {"from": "x", "to": "2026-01-01", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "from" in response.json()


def test_options_in_csv_is_json(world, api):
    response = api(world.people[5]).options(f"{URL}?from=2026-03-01&to=2026-03-31&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["name"]


def test_a_refusal_in_csv_is_json_too(world, api):
    response = api(world.people[3]).get(URL, {**MARCH, "format": "csv"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_metric_reads_go_to_the_reporting_database_when_there_is_one(month, world):
    with override_settings(DATABASES={"default": connection.settings_dict, "reporting": connection.settings_dict}):
        assert scoped_incidents(world.people[5]).db == "reporting"
        assert Incident.objects.all().db == "default"  # everything else stays on the primary
        assert ReportingRouter().db_for_write(Incident, reporting=True) is None
        # The test run has no such connection: the metrics really do ask for it.
        with pytest.raises(Exception, match="reporting"):
            metrics(actor=world.people[5], period=Period(scenario.at(1, 0).date(), scenario.at(31, 0).date()))
    assert scoped_incidents(world.people[5]).db == "default"
