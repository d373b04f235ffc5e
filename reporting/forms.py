from django import forms

from procedures.limits import TEXT_MAX, TITLE_MAX
from reporting import metrics
from skills.models import Person, Role


class ReviewWriteUpForm(forms.Form):
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=TEXT_MAX)
    causes = forms.CharField(
        label="Contributing factors", widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=TEXT_MAX,
        help_text="One per line.",
    )  # fmt: skip
    went_well = forms.CharField(label="What went well", widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=TEXT_MAX)
    went_badly = forms.CharField(label="What went badly", widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=TEXT_MAX)

    def clean_causes(self):
        lines = [line.strip() for line in self.cleaned_data["causes"].splitlines() if line.strip()]
        if len(lines) > 20 or any(len(line) > 500 for line in lines):
            raise forms.ValidationError("At most 20 factors of 500 characters each.")
        return lines


class ReviewActionForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    owner = forms.ModelChoiceField(
        queryset=Person.objects.filter(role=Role.STAFF, is_active=True).order_by("username"), to_field_name="username"
    )
    due_on = forms.DateField(label="Due on", widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d"])


class ReviewRequestForm(forms.Form):
    incident = forms.RegexField(
        label="Incident", regex=r"^INC-\d{6,}$", max_length=20, help_text="Its reference, e.g. INC-000123.",
        error_messages={"invalid": "Enter an incident's reference, e.g. INC-000123."},
    )  # fmt: skip


class ReviewCloseForm(forms.Form):
    outcome = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=TEXT_MAX,
                              help_text="Sent by email to the service owner and the stakeholders.")  # fmt: skip


class PeriodForm(forms.Form):
    """The period and grouping of the reports pages: `metrics.parse_period` decides."""

    from_ = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(
        label="Group by", required=False, choices=[("", "—"), *((g, g.title()) for g in metrics.GROUPS)]
    )

    def __init__(self, params, *, default, with_group=True):
        data = {"from_": params.get("from", ""), "to": params.get("to", ""), "group_by": params.get("group_by", "")}
        super().__init__(data)
        if not with_group:
            del self.fields["group_by"]
        self.period, self.group_by = default, None
        try:
            self.period, self.group_by = metrics.parse_period(params, default=default)
        except ValueError as exc:
            for name, messages in exc.args[0].items():
                field = {"from": "from_"}.get(name, name)
                if field in self.fields:
                    self.add_error(field, messages)
        if not self.data["from_"] and not self.data["to"]:
            self.data = {**self.data, "from_": default.start_date.isoformat(), "to": default.end_date.isoformat()}
        if not with_group:
            self.group_by = None
