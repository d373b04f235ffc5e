"""The plain representation of incidents is DRF's own, field for field."""

import json
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from incidents import services
from incidents.selectors import incidents_visible_to
from incidents.serializers import IncidentDetailSerializer, IncidentSerializer

pytestmark = pytest.mark.django_db


def _drf(serializer_class, instance):
    serializer = serializer_class(instance)
    return serializers.ModelSerializer.to_representation(serializer, instance)


def _incidents(world):
    version = world.hardware.procedure.versions.get()
    version.checklist = [{"title": "Check cabling", "mandatory": True}]
    version.deadlines = [{"name": "Regulator", "after": 3600}]
    version.save()
    engineer = world.people[3]
    plain = world.incident(service=None)
    assigned = world.incident(title="Assigned")
    services.incident_assign(actor=engineer, incident=assigned, assignee=engineer)
    held = world.incident(title="Held")
    services.incident_start(actor=engineer, incident=held)
    services.incident_hold(actor=engineer, incident=held, reason="Waiting for parts")
    resolved = world.incident(title="Resolved", impact=1, urgency=1)
    services.incident_start(actor=engineer, incident=resolved)
    services.incident_complete_task(actor=engineer, incident=resolved, position=1)
    services.incident_resolve(actor=engineer, incident=resolved, resolution_code="fixed", resolution_notes="Done")
    return [plain, assigned, held, resolved]


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "Asia/Kolkata"])
def test_plain_matches_drf_for_lists_and_detail(world, zone):
    created = _incidents(world)
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        rows = list(incidents_visible_to(world.people[4]).filter(pk__in=[i.pk for i in created]))
        assert len(rows) == 4
        now = timezone.now()
        listed = IncidentSerializer(rows, many=True, context={"now": now}).data
        assert json.dumps(listed) == json.dumps([_drf(IncidentSerializer, row) for row in rows])
        for row in rows:
            row = type(row).objects.prefetch_related("tasks__done_by", "deadlines__met_by").get(pk=row.pk)
            assert json.dumps(IncidentDetailSerializer(row).data) == json.dumps(_drf(IncidentDetailSerializer, row))
    assert any(row["assignee"] for row in listed) and any(row["service"] is None for row in listed)
    assert any(row["resolved_at"] for row in listed)


def test_plain_handles_values_as_written(world):
    incident = world.incident()  # in memory: enums, microseconds, objects the service used
    assert json.dumps(IncidentSerializer(incident).data) == json.dumps(_drf(IncidentSerializer, incident))
