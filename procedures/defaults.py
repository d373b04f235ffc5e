"""Sensible defaults per incident class. A new procedure starts from its class's defaults;
the demo organisation uses them as they are."""

from procedures.models import IncidentClass

HOUR, DAY = 3600, 86400


def _targets(pairs):
    return {str(p): {"response": r, "resolution": s} for p, (r, s) in enumerate(pairs, 1)}


NOTIFY_MANAGERS_ON_BREACH = [
    {"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
    {"anchor": "resolve_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
]

CRITICAL_SERVICE_RULE = {"name": "A critical service raises the impact", "critical_service": True, "impact": 1}

CLASS_DEFAULTS = {
    IncidentClass.MAJOR: {
        "sla_targets": _targets([(300, 2 * HOUR), (600, 4 * HOUR), (900, 8 * HOUR), (1800, DAY), (HOUR, 2 * DAY)]),
        "escalation": [
            {"anchor": "created", "after": 0, "action": "notify", "targets": {"min_level": 5}},
            {"anchor": "response_due", "after": 0, "action": "raise_level", "targets": {}},
            {"anchor": "resolve_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
        ],
        "checklist": [
            {"title": "Name a communications lead", "mandatory": True},
            {"title": "Tell the service owners and stakeholders", "mandatory": True},
            {"title": "Open the major incident review", "mandatory": True},
        ],
        "action_levels": {"close": 5},
        "warning_percent": 50,
        "deadlines": [],
        "routing_rules": [],
    },
    IncidentClass.SECURITY: {
        "sla_targets": _targets([(600, 4 * HOUR), (1800, 8 * HOUR), (HOUR, DAY), (4 * HOUR, 3 * DAY), (8 * HOUR, 5 * DAY)]),
        "escalation": [
            {"anchor": "created", "after": 0, "action": "notify", "targets": {"team": "security"}},
            *NOTIFY_MANAGERS_ON_BREACH,
        ],
        "checklist": [
            {"title": "Contain the threat", "mandatory": True},
            {"title": "Preserve evidence", "mandatory": True},
            {"title": "Assess whether personal data was affected", "mandatory": True},
        ],
        "action_levels": {},
        "warning_percent": 75,
        "deadlines": [{"name": "Notify the data protection regulator (72 hours)", "after": 72 * HOUR}],
        "routing_rules": [],
    },
    IncidentClass.COMPLEX: {
        "sla_targets": _targets([(900, 8 * HOUR), (1800, 16 * HOUR), (4 * HOUR, 2 * DAY), (8 * HOUR, 5 * DAY), (DAY, 10 * DAY)]),
        "escalation": [
            *NOTIFY_MANAGERS_ON_BREACH,
            {"anchor": "resolve_due", "after": 0, "action": "raise_level", "targets": {}},
        ],
        "checklist": [{"title": "Agree a coordinator across the teams involved", "mandatory": False}],
        "action_levels": {},
        "warning_percent": 75,
        "deadlines": [],
        "routing_rules": [CRITICAL_SERVICE_RULE],
    },
    IncidentClass.STANDARD: {
        "sla_targets": _targets([(900, 4 * HOUR), (1800, 8 * HOUR), (4 * HOUR, DAY), (8 * HOUR, 3 * DAY), (DAY, 5 * DAY)]),
        "escalation": NOTIFY_MANAGERS_ON_BREACH,
        "checklist": [],
        "action_levels": {},
        "warning_percent": 75,
        "deadlines": [],
        "routing_rules": [CRITICAL_SERVICE_RULE],
    },
    IncidentClass.LOW_IMPACT: {
        "sla_targets": _targets([(4 * HOUR, 16 * HOUR), (8 * HOUR, DAY), (16 * HOUR, 40 * HOUR), (DAY, 80 * HOUR), (40 * HOUR, 120 * HOUR)]),
        "escalation": [{"anchor": "resolve_due", "after": 0, "action": "notify", "targets": {"min_level": 4}}],
        "checklist": [],
        "action_levels": {"resolve": 2, "close": 2},
        "warning_percent": 90,
        "deadlines": [],
        "routing_rules": [],
    },
}


def defaults_for(incident_class):
    import copy

    return copy.deepcopy(CLASS_DEFAULTS[incident_class])


# Major incidents: how often stakeholders hear from the communications lead, by priority.
UPDATE_CADENCE = {"1": 30 * 60, "2": 60 * 60, "3": 2 * HOUR, "4": 4 * HOUR, "5": 8 * HOUR}


def update_cadence_for(incident):
    cadence = incident.procedure_version.update_cadence or UPDATE_CADENCE
    return int(cadence.get(str(incident.priority), UPDATE_CADENCE[str(incident.priority)]))
