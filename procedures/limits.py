"""How much text an incident takes, in every entry point: the browser forms, the API, the
dry run (and inbound mail). One definition, so no door is wider than another."""

TITLE_MAX = 200  # also the column's length (incidents.Incident.title)
TEXT_MAX = 20_000  # description, notes, updates, resolution notes, cause
REASON_MAX = 2_000  # reasons for holds, escalations, priority changes, overrides
RESOLUTION_CODE_MAX = 40
