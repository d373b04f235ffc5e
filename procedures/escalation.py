"""An escalation step, described once: when it is due, what it is called, whom it tells
and with what subject. The engine runs it, the dry run predicts it and the incident page
shows it from these functions, so the three cannot drift apart."""

from dataclasses import dataclass
from datetime import timedelta

from procedures.sla import add_working_time
from skills.models import Person, Team
from skills.policy import staff_who_may_see

ANCHOR_LABELS = {
    "created": "on arrival",
    "response_due": "the response target",
    "resolve_due": "the resolution target",
}
# The moment itself, for "5 min after registration".
ANCHOR_POINTS = {"created": "registration", "response_due": "the response target", "resolve_due": "the resolution target"}
ACTION_LABELS = {"notify": "Notify", "raise_level": "Raise the escalation level", "handover": "Hand over"}


def duration_text(seconds):
    """3900 -> "1 h 5 min"."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")) if n]
    return " ".join(parts) or "0 s"


@dataclass(frozen=True)
class Step:
    """One step of an escalation policy (as validated by `procedures.validation`)."""

    index: int  # 0-based position in the policy: the key of its once-only run
    anchor: str
    after: int
    action: str
    targets: dict

    @property
    def number(self):
        return self.index + 1

    def due_at(self, calendar, anchors):
        """When the step is due: `after` working seconds from its anchor. `anchors` maps
        each anchor to a moment, or to None when it no longer applies (a response target
        that was met). A step with no delay is due at the anchor itself, even when the
        anchor falls outside working hours."""
        moment = anchors.get(self.anchor)
        if moment is None:
            return None
        if not self.after:
            return moment
        return add_working_time(calendar, moment, self.after)

    @property
    def when_text(self):
        anchor = ANCHOR_POINTS.get(self.anchor, self.anchor)
        return f"{duration_text(self.after)} after {anchor}" if self.after else f"At {anchor}"

    @property
    def action_text(self):
        return ACTION_LABELS.get(self.action, self.action)

    @property
    def targets_text(self):
        targets, names = self.targets, []
        if targets.get("team"):
            names.append(f"team {targets['team']}")
        if targets.get("min_level"):
            names.append(f"staff at level {targets['min_level']} and up")
        if targets.get("person"):
            names.append(str(targets["person"]))
        if targets.get("assignee"):
            names.append("the assignee")
        if targets.get("supplier"):
            names.append(f"supplier {targets['supplier']}")
        return ", ".join(names)

    @property
    def handover_team(self):
        return self.targets.get("team") if self.action == "handover" else None

    def headline(self, title, *, team_name=None):
        """The subject line of the step's message (without the `[INC-…]` prefix), or None
        for a step that sends none."""
        if self.action == "notify":
            return f"Escalation ({ANCHOR_LABELS[self.anchor]}): {title}"
        if self.action == "handover" and team_name:
            return f"Handed to {team_name}: {title}"
        return None

    def body(self, procedure_name):
        return f"Step {self.number} of the escalation policy of {procedure_name}."

    def people(self, *, is_security, assignee_id=None):
        """The staff a notify step tells: its team, levels N and up, a named person and
        the assignee, among those who may see the incident."""
        if self.action != "notify":
            return []
        return notify_people(self.targets, is_security=is_security, assignee_id=assignee_id)


def steps(policy):
    """The steps of an escalation policy (a list of step dicts), described."""
    return [
        Step(index=n, anchor=s["anchor"], after=s.get("after") or 0, action=s["action"], targets=s.get("targets") or {})
        for n, s in enumerate(policy or ())
    ]


def notify_people(targets, *, is_security, assignee_id=None):
    """Active staff named by a notify step's targets who may see the incident, by username."""
    people = Person.objects.none()
    if "team" in targets:
        people = people | Person.objects.filter(teams__slug=targets["team"])
    if "min_level" in targets:
        people = people | Person.objects.filter(sfia_level__gte=targets["min_level"])
    if "person" in targets:
        people = people | Person.objects.filter(username=targets["person"])
    if targets.get("assignee") and assignee_id:
        people = people | Person.objects.filter(pk=assignee_id)
    return list(staff_who_may_see(people, is_security=is_security).order_by("username"))


def team_people(team, *, is_security):
    """Active members of `team` (a Team) who may see the incident, by username."""
    if team is None:
        return []
    return list(staff_who_may_see(Person.objects.filter(teams=team), is_security=is_security).order_by("username"))


def warning_headline(clock, title):
    """The subject of an SLA warning ("response" or "resolution")."""
    return f"{clock.capitalize()} target due soon: {title}"


def deadline_headline(name, *, missed):
    return f"Deadline missed: {name}" if missed else f"Deadline approaching: {name}"


def deadline_times(detected_at, after):
    """A named deadline's due time and its reminder (at three quarters). Regulators count
    calendar time from detection, not working time."""
    return detected_at + timedelta(seconds=after), detected_at + timedelta(seconds=after * 3 // 4)


def team_named(slug):
    return Team.objects.filter(slug=slug).first()
