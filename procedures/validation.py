"""Validation of procedure data. Each function raises ValidationError naming the field,
so the API answers 400 with `{"field": ["message"]}` and nothing is changed."""

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

from procedures.models import Channel
from procedures.sla import WEEKDAYS

PRIORITIES = ("1", "2", "3", "4", "5")
ANCHORS = ("created", "response_due", "resolve_due")
STEP_ACTIONS = ("notify", "raise_level", "handover")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _fail(field, message):
    raise ValidationError({field: [message]})


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def clean_sla_targets(targets, field="sla_targets"):
    if not isinstance(targets, dict) or set(targets) != set(PRIORITIES):
        _fail(field, 'Give targets for each priority "1" to "5".')
    cleaned = {}
    for priority in PRIORITIES:
        target = targets[priority]
        if not isinstance(target, dict) or set(target) != {"response", "resolution"}:
            _fail(field, f'Priority {priority}: give "response" and "resolution" in seconds.')
        response, resolution = target["response"], target["resolution"]
        if not (_positive_int(response) and _positive_int(resolution)):
            _fail(field, f"Priority {priority}: targets must be positive whole numbers of seconds.")
        if resolution < response:
            _fail(field, f"Priority {priority}: the resolution target comes before the response target.")
        cleaned[priority] = {"response": response, "resolution": resolution}
    for higher, lower in zip(PRIORITIES, PRIORITIES[1:], strict=False):
        if cleaned[higher]["resolution"] > cleaned[lower]["resolution"]:
            _fail(field, f"Priority {higher} must not have a longer resolution target than priority {lower}.")
    return cleaned


def clean_working_hours(hours, around_the_clock, field="working_hours"):
    if around_the_clock:
        if hours:
            _fail(field, "A 24x7 calendar has no working hours.")
        return {}
    if not isinstance(hours, dict) or not hours:
        _fail(field, "A calendar needs working hours on at least one day (or make it 24x7).")
    cleaned = {}
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            _fail(field, f"{day!r} is not a weekday; use {', '.join(WEEKDAYS)}.")
        if not isinstance(spans, list):
            _fail(field, f"{day}: give a list of [start, end] pairs.")
        previous_end = None
        day_spans = []
        for span in spans:
            if not (isinstance(span, list | tuple) and len(span) == 2 and all(isinstance(t, str) and TIME_RE.match(t) for t in span)):
                _fail(field, f'{day}: each span is ["HH:MM", "HH:MM"].')
            start, end = span
            if start >= end or start == "24:00":
                _fail(field, f"{day}: {start}-{end} ends before it starts.")
            if previous_end is not None and start < previous_end:
                _fail(field, f"{day}: spans overlap or are out of order.")
            previous_end = end
            day_spans.append([start, end])
        if day_spans:
            cleaned[day] = day_spans
    if not cleaned:
        _fail(field, "A calendar needs working hours on at least one day (or make it 24x7).")
    return cleaned


def clean_timezone(name, field="timezone"):
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        _fail(field, f"{name!r} is not a time zone name such as Europe/London.")
    return name


def clean_holidays(holidays, field="holidays"):
    if not isinstance(holidays, list):
        _fail(field, 'Give a list of dates like "2026-12-25".')
    for value in holidays:
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            _fail(field, f"{value!r} is not a date like 2026-12-25.")
    return sorted(set(holidays))


def clean_escalation(steps, *, home_team, teams, people, field="escalation"):
    """Steps: {"anchor", "after" (seconds from the anchor, >= 0), "action", "targets"}.
    `teams` and `people` are sets of known slugs and usernames."""
    if not isinstance(steps, list):
        _fail(field, "Give a list of steps.")
    cleaned, holder, holders = [], home_team, [home_team]
    for number, step in enumerate(steps, 1):
        where = f"Step {number}"
        if not isinstance(step, dict):
            _fail(field, f"{where}: give an object.")
        anchor, after, action = step.get("anchor"), step.get("after"), step.get("action")
        targets = step.get("targets") or {}
        if anchor not in ANCHORS:
            _fail(field, f"{where}: anchor must be one of {', '.join(ANCHORS)}.")
        if not isinstance(after, int) or isinstance(after, bool):
            _fail(field, f"{where}: after is a whole number of seconds.")
        if after < 0:
            _fail(field, f"{where}: it is timed before its anchor ({anchor}); after must be 0 or more.")
        if action not in STEP_ACTIONS:
            _fail(field, f"{where}: action must be one of {', '.join(STEP_ACTIONS)}.")
        if not isinstance(targets, dict):
            _fail(field, f"{where}: targets is an object.")
        if action == "notify":
            if not targets or set(targets) - {"team", "min_level", "person", "assignee"}:
                _fail(field, f'{where}: notify needs targets "team", "min_level", "person" or "assignee".')
        if action == "handover" and not ({"team", "supplier"} & set(targets)):
            _fail(field, f'{where}: handover needs a "team" or a "supplier".')
        if "team" in targets and targets["team"] not in teams:
            _fail(field, f"{where}: there is no team {targets['team']!r}.")
        if "person" in targets and targets["person"] not in people:
            _fail(field, f"{where}: there is no person {targets['person']!r}.")
        if "min_level" in targets and targets["min_level"] not in (1, 2, 3, 4, 5):
            _fail(field, f"{where}: min_level is 1 to 5.")
        if action == "handover" and "team" in targets:
            if targets["team"] == holder:
                _fail(field, f"{where}: hands the incident to the team that already has it.")
            if targets["team"] in holders:
                _fail(field, f"{where}: hands the incident back to {targets['team']}, a cycle of hand-overs.")
            holder = targets["team"]
            holders.append(holder)
        cleaned.append({"anchor": anchor, "after": after, "action": action, "targets": targets})
    return cleaned


def clean_checklist(items, field="checklist"):
    if not isinstance(items, list):
        _fail(field, "Give a list of tasks.")
    cleaned = []
    for number, item in enumerate(items, 1):
        if isinstance(item, str):
            item = {"title": item}
        if not isinstance(item, dict) or not isinstance(item.get("title"), str) or not item["title"].strip():
            _fail(field, f"Task {number}: give a title.")
        if len(item["title"]) > 200:
            _fail(field, f"Task {number}: the title is longer than 200 characters.")
        cleaned.append({"title": item["title"].strip(), "mandatory": bool(item.get("mandatory", False))})
    return cleaned


def clean_action_levels(levels, field="action_levels"):
    from skills.policy import Action

    if not isinstance(levels, dict):
        _fail(field, 'Give an object like {"resolve": 2}.')
    for action, level in levels.items():
        if action not in Action.__members__.values():
            _fail(field, f"{action!r} is not an action.")
        if level not in (1, 2, 3, 4, 5):
            _fail(field, f"{action}: the level is 1 to 5.")
    return dict(levels)


def clean_routing_rules(rules, *, teams, services, categories, field="routing_rules"):
    """Rules, first match wins: {"name", "category"?, "service"?, "critical_service"?,
    "words"?, "channel"?, "team"?, "impact"?}."""
    if not isinstance(rules, list):
        _fail(field, "Give a list of rules.")
    cleaned = []
    allowed = {"name", "category", "service", "critical_service", "words", "channel", "team", "impact"}
    for number, rule in enumerate(rules, 1):
        where = f"Rule {number}"
        if not isinstance(rule, dict):
            _fail(field, f"{where}: give an object.")
        unknown = set(rule) - allowed
        if unknown:
            _fail(field, f"{where}: unknown keys {', '.join(sorted(unknown))}.")
        if "team" not in rule and "impact" not in rule:
            _fail(field, f"{where}: a rule sets a team, an impact or both.")
        if "team" in rule and rule["team"] not in teams:
            _fail(field, f"{where}: there is no team {rule['team']!r}.")
        if "service" in rule and rule["service"] not in services:
            _fail(field, f"{where}: there is no service {rule['service']!r}.")
        if "category" in rule and rule["category"] not in categories:
            _fail(field, f"{where}: there is no category {rule['category']!r}.")
        if "channel" in rule and rule["channel"] not in Channel.values:
            _fail(field, f"{where}: channel must be one of {', '.join(Channel.values)}.")
        if "impact" in rule and rule["impact"] not in (1, 2, 3):
            _fail(field, f"{where}: impact is 1 (high) to 3 (low).")
        words = rule.get("words", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            _fail(field, f"{where}: words is a list of words.")
        cleaned.append({**rule, "name": str(rule.get("name") or f"rule {number}")})
    return cleaned


def clean_deadlines(deadlines, field="deadlines"):
    """Named deadlines from detection (creation), such as a regulator's 72 hours."""
    if not isinstance(deadlines, list):
        _fail(field, "Give a list of deadlines.")
    cleaned = []
    for number, deadline in enumerate(deadlines, 1):
        if not isinstance(deadline, dict) or not str(deadline.get("name", "")).strip():
            _fail(field, f"Deadline {number}: give a name.")
        if not _positive_int(deadline.get("after")):
            _fail(field, f"Deadline {number}: after is a positive number of seconds from detection.")
        cleaned.append({"name": deadline["name"].strip(), "after": deadline["after"]})
    return cleaned


def clean_priority_matrix(matrix, field="matrix"):
    if not isinstance(matrix, dict) or set(matrix) != {"1", "2", "3"}:
        _fail(field, 'Give rows "1" to "3" (impact), each with columns "1" to "3" (urgency).')
    for impact, row in matrix.items():
        if not isinstance(row, dict) or set(row) != {"1", "2", "3"}:
            _fail(field, f"Impact {impact}: give urgencies \"1\" to \"3\".")
        for urgency, priority in row.items():
            if priority not in (1, 2, 3, 4, 5):
                _fail(field, f"Impact {impact}, urgency {urgency}: the priority is 1 to 5.")
    return matrix
