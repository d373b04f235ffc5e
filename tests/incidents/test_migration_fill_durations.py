"""Migration 0006 fills the metric columns of older incidents as the services would have."""

import importlib

from django.apps import apps

from incidents.models import Incident
from tests.reporting import scenario

COLUMNS = (
    "ack_seconds", "ack_working_seconds", "resolve_seconds", "resolve_working_seconds", "close_seconds",
    "reopen_count", "escalation_count", "team_changes", "resolved_by_id", "resolved_level", "resolved_first_line",
)  # fmt: skip


def test_the_data_migration_gives_what_the_services_wrote(world):
    scenario.build(world)
    written = {i.pk: tuple(getattr(i, c) for c in COLUMNS) for i in Incident.objects.all()}
    Incident.objects.update(
        ack_seconds=None, ack_working_seconds=None, resolve_seconds=None, resolve_working_seconds=None,
        close_seconds=None, reopen_count=0, escalation_count=0, team_changes=0, resolved_by=None,
        resolved_level=None, resolved_first_line=False,
    )  # fmt: skip
    importlib.import_module("incidents.migrations.0006_fill_milestone_durations").fill(apps, None)
    filled = {i.pk: tuple(getattr(i, c) for c in COLUMNS) for i in Incident.objects.all()}
    assert filled == written
