"""How much text an incident takes, in every entry point: the browser forms, the API, the
dry run, inbound alerts and events. One definition, so no door is wider than another; the
incident services check it again (`check_incident_text`), so a door that forgets cannot
store more."""

TITLE_MAX = 200  # also the column's length (incidents.Incident.title)
TEXT_MAX = 20_000  # description, notes, updates, resolution notes, cause
REASON_MAX = 2_000  # reasons for holds, escalations, priority changes, overrides
RESOLUTION_CODE_MAX = 40


def check_incident_text(**texts):
    """Refuse (ValidationError naming each field) incident text over its limit: the
    services ask this, so an entry point that forgets a limit still cannot store more.
    (PostgreSQL's search vector holds at most 1 MB: within these limits it never fills.)"""
    from django.core.exceptions import ValidationError

    limits = {
        "title": TITLE_MAX, "public_title": TITLE_MAX, "resolution_code": RESOLUTION_CODE_MAX,
        "reason": REASON_MAX, "override_reason": REASON_MAX,
    }  # fmt: skip
    errors = {}
    for field, text in texts.items():
        limit = limits.get(field, TEXT_MAX)
        if text is not None and len(text) > limit:
            errors[field] = [too_long(limit, len(text))]
    if errors:
        raise ValidationError(errors)


def too_long(limit, length):
    return f"Ensure this value has at most {limit:,} characters (it has {length:,})."
