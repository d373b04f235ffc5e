"""Routing: the procedure version's rules in order, first match wins; no match, its team."""

import re
from dataclasses import dataclass

DEFAULT_RULE = "the procedure's default team"


@dataclass(frozen=True)
class Route:
    team_slug: str
    impact: int
    rule: str


def _words(text):
    return set(re.findall(r"\w+", text.lower()))


def matches(rule, *, category, service, title, description, channel):
    if "category" in rule and (category is None or rule["category"] != category.slug):
        return False
    if "service" in rule and (service is None or rule["service"] != service.slug):
        return False
    if rule.get("critical_service") and (service is None or not service.is_critical):
        return False
    if "channel" in rule and rule["channel"] != channel:
        return False
    if rule.get("words"):
        text = _words(f"{title} {description}")
        if not any(word.lower() in text for word in rule["words"]):
            return False
    return True


def route(version, *, category, service, title, description, channel, impact):
    """The team and impact for a new incident, and the rule that decided them. A rule may
    raise the impact (1 is highest), never lower it."""
    for rule in version.routing_rules or ():
        if matches(rule, category=category, service=service, title=title, description=description, channel=channel):
            return Route(
                team_slug=rule.get("team", version.team.slug),
                impact=min(impact, rule.get("impact", impact)),
                rule=rule["name"],
            )
    return Route(team_slug=version.team.slug, impact=impact, rule=DEFAULT_RULE)
