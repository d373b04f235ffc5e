"""Browser forms for procedures: readable fields (hours and minutes, one row per rule or
step) that become the version fields `procedures.services.procedure_edit` validates."""

from django import forms
from django.utils import timezone

from procedures import limits
from procedures.models import Calendar, Category, Channel, Level, Service
from skills.models import Team

PRIORITIES = range(1, 6)
CLOCKS = (("response", "Response"), ("resolution", "Resolution"))


def _hours(**kwargs):
    return forms.IntegerField(min_value=0, max_value=24 * 366, widget=forms.NumberInput(attrs={"class": "num"}), **kwargs)


def _minutes(**kwargs):
    return forms.IntegerField(min_value=0, max_value=59, widget=forms.NumberInput(attrs={"class": "num"}), **kwargs)


def split(seconds):
    """Seconds as (hours, minutes); seconds below a minute round up to one minute."""
    minutes = -(-int(seconds) // 60)
    return divmod(minutes, 60)


class VersionForm(forms.Form):
    """The team, calendar, warning share, SLA targets (hours and minutes per priority and
    clock) and checklist (one task a line; a line starting with "!" is mandatory)."""

    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), to_field_name="slug", empty_label=None)
    calendar = forms.ModelChoiceField(queryset=Calendar.objects.order_by("name"), to_field_name="slug", empty_label=None)
    warning_percent = forms.IntegerField(min_value=1, max_value=99, label="Warn at (% of a target)")
    checklist = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text='One task a line. Start a line with "!" for a mandatory task (it must be done before closing).',
    )  # fmt: skip

    def __init__(self, *args, version=None, **kwargs):
        if version is not None and not (args and args[0] is not None) and "initial" not in kwargs:
            initial = {
                "team": version.team.slug, "calendar": version.calendar.slug,
                "warning_percent": version.warning_percent,
                "checklist": "\n".join(("!" if t.get("mandatory") else "") + t["title"] for t in version.checklist),
            }  # fmt: skip
            for p in PRIORITIES:
                for clock, _ in CLOCKS:
                    hours, minutes = split(version.sla_targets[str(p)][clock])
                    initial[f"p{p}_{clock}_h"], initial[f"p{p}_{clock}_m"] = hours, minutes
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        for p in PRIORITIES:
            for clock, label in CLOCKS:
                self.fields[f"p{p}_{clock}_h"] = _hours(label=f"P{p} {label.lower()} hours")
                self.fields[f"p{p}_{clock}_m"] = _minutes(label=f"P{p} {label.lower()} minutes")

    def target_rows(self):
        """For the template: one row per priority with its four fields."""
        return [
            (p, [(self[f"p{p}_{clock}_h"], self[f"p{p}_{clock}_m"]) for clock, _ in CLOCKS]) for p in PRIORITIES
        ]

    def clean(self):
        data = super().clean()
        for p in PRIORITIES:
            for clock, label in CLOCKS:
                hours, minutes = data.get(f"p{p}_{clock}_h"), data.get(f"p{p}_{clock}_m")
                if hours is not None and minutes is not None and hours * 60 + minutes == 0:
                    self.add_error(f"p{p}_{clock}_m", f"P{p} {label.lower()}: a target of zero is no target.")
        return data

    def changes(self):
        data = self.cleaned_data
        targets = {
            str(p): {clock: (data[f"p{p}_{clock}_h"] * 60 + data[f"p{p}_{clock}_m"]) * 60 for clock, _ in CLOCKS}
            for p in PRIORITIES
        }
        checklist = []
        for line in data["checklist"].splitlines():
            line = line.strip()
            if line:
                mandatory = line.startswith("!")
                checklist.append({"title": line.lstrip("!").strip(), "mandatory": mandatory})
        return {
            "team": data["team"], "calendar": data["calendar"], "warning_percent": data["warning_percent"],
            "sla_targets": targets, "checklist": checklist,
        }  # fmt: skip


class RuleForm(forms.Form):
    """One routing rule: the conditions (all that are given must match) and the result."""

    name = forms.CharField(max_length=100)
    category = forms.ModelChoiceField(queryset=Category.objects.order_by("name"), to_field_name="slug", required=False, empty_label="Any")
    service = forms.ModelChoiceField(queryset=Service.objects.order_by("name"), to_field_name="slug", required=False, empty_label="Any")
    critical_service = forms.BooleanField(required=False, label="Only a critical service")
    words = forms.CharField(required=False, max_length=500, help_text="Any of these words (comma-separated) in the title or description.")
    channel = forms.ChoiceField(choices=[("", "Any"), *Channel.choices], required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), to_field_name="slug", required=False, empty_label="Keep the procedure's team", label="Route to team")
    impact = forms.TypedChoiceField(choices=[("", "Keep"), *Level.choices], coerce=int, empty_value=None, required=False, label="Raise the impact to")

    def rule(self):
        data = self.cleaned_data
        rule = {"name": data["name"]}
        for key in ("category", "service", "team"):
            if data.get(key):
                rule[key] = data[key].slug
        if data.get("critical_service"):
            rule["critical_service"] = True
        words = [w.strip() for w in (data.get("words") or "").split(",") if w.strip()]
        if words:
            rule["words"] = words
        if data.get("channel"):
            rule["channel"] = data["channel"]
        if data.get("impact"):
            rule["impact"] = data["impact"]
        return rule

    @staticmethod
    def initial_for(rule):
        return {**rule, "words": ", ".join(rule.get("words", ()))}


ANCHOR_CHOICES = [("created", "registration"), ("response_due", "the response target"), ("resolve_due", "the resolution target")]
ACTION_CHOICES = [("notify", "Notify"), ("raise_level", "Raise the escalation level"), ("handover", "Hand over")]


class StepForm(forms.Form):
    """One escalation step: when (hours and minutes after an anchor), what, and whom."""

    after_h = _hours(label="Hours after")
    after_m = _minutes(label="Minutes after")
    # A blank first choice, so an empty row of the formset stays unchanged (and is skipped).
    anchor = forms.ChoiceField(choices=[("", "Choose"), *ANCHOR_CHOICES], label="After")
    action = forms.ChoiceField(choices=[("", "Choose"), *ACTION_CHOICES])
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), to_field_name="slug", required=False, empty_label="—", label="Team")
    min_level = forms.TypedChoiceField(choices=[("", "—"), *[(n, f"Level {n} and up") for n in range(1, 6)]], coerce=int, empty_value=None, required=False, label="People at")
    person = forms.CharField(required=False, max_length=150, label="Person (username)")
    assignee = forms.BooleanField(required=False, label="The assignee")
    supplier = forms.CharField(required=False, max_length=200, label="Supplier")

    def step(self):
        data = self.cleaned_data
        targets = {}
        if data.get("team"):
            targets["team"] = data["team"].slug
        if data.get("min_level"):
            targets["min_level"] = data["min_level"]
        if data.get("person"):
            targets["person"] = data["person"].strip()
        if data.get("assignee"):
            targets["assignee"] = True
        if data.get("supplier"):
            targets["supplier"] = data["supplier"].strip()
        return {
            "anchor": data["anchor"], "after": (data["after_h"] * 60 + data["after_m"]) * 60,
            "action": data["action"], "targets": targets,
        }  # fmt: skip

    @staticmethod
    def initial_for(step):
        hours, minutes = divmod(int(step["after"]) // 60, 60)
        return {"anchor": step["anchor"], "action": step["action"], "after_h": hours, "after_m": minutes, **step.get("targets", {})}


RuleFormSet = forms.formset_factory(RuleForm, extra=1, can_delete=True, max_num=50, validate_max=True)
StepFormSet = forms.formset_factory(StepForm, extra=1, can_delete=True, max_num=50, validate_max=True)


def rows_of(formset, method):
    """The filled-in, not deleted rows of a formset, in order."""
    return [getattr(form, method)() for form in formset.forms if form.has_changed() and not form.cleaned_data.get("DELETE")]


class DryRunForm(forms.Form):
    """ "Register this at Friday 17:55": a sample incident and the moment it arrives."""

    title = forms.CharField(max_length=limits.TITLE_MAX, required=False)
    description = forms.CharField(max_length=limits.TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.ModelChoiceField(queryset=None, to_field_name="slug", required=False, empty_label="The procedure's first")
    service = forms.ModelChoiceField(queryset=Service.objects.order_by("name"), to_field_name="slug", required=False, empty_label="None")
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.WEB)
    impact = forms.TypedChoiceField(choices=Level.choices, coerce=int, initial=Level.MEDIUM)
    urgency = forms.TypedChoiceField(choices=Level.choices, coerce=int, initial=Level.MEDIUM)
    at = forms.DateTimeField(
        label="Arriving at", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Local time of this site's zone; blank means now.",
    )  # fmt: skip

    def __init__(self, *args, procedure=None, **kwargs):
        super().__init__(*args, **kwargs)
        categories = Category.objects.order_by("name")
        self.fields["category"].queryset = categories.filter(procedure=procedure) if procedure else categories

    def sample(self):
        data = self.cleaned_data
        sample = {k: data[k] for k in ("title", "description", "channel", "impact", "urgency")}
        sample["category"], sample["service"] = data.get("category"), data.get("service")
        return sample, data.get("at") or timezone.now()
