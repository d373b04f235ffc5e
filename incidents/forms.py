"""Browser forms. They parse and validate input only; the services decide and change."""

from django import forms
from django.utils.html import format_html, format_html_join

from incidents import errors
from incidents.models import OPEN_STATUSES, Channel, Incident, Level, Status
from procedures import config_cache, limits
from procedures.models import Category, Service
from skills.models import Person, Role, Team

PRIORITY_CHOICES = [(p, f"P{p}") for p in range(1, 6)]


class QuickSelect(forms.Select):
    """A <select> with the markup of Django's own templates (select.html, select_option.html
    and attrs.html), put together in Python: the queue's filter and bulk forms draw a few
    hundred options (every staff member in the bulk assign list), and through the option
    template each one costs a template render, a third of the queue page's time."""

    @staticmethod
    def _attrs(attrs):
        return format_html_join("", "{}", (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, str(value)),)
            for name, value in attrs.items()
            if value is not False
        ))  # fmt: skip

    def _group(self, group_name, options):
        rows = format_html_join("", '\n  <option value="{}"{}>{}</option>\n', (
            (str(option["value"]), self._attrs(option["attrs"]), option["label"]) for option in options
        ))  # fmt: skip
        if group_name:
            return format_html('\n  <optgroup label="{}">{}\n  </optgroup>', group_name, rows)
        return rows

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        groups = format_html_join("", "{}", ((self._group(group, options),) for group, options, _ in widget["optgroups"]))
        return format_html('<select name="{}"{}>{}\n</select>', widget["name"], self._attrs(widget["attrs"]), groups)


def _staff():
    return Person.objects.filter(role=Role.STAFF, is_active=True).order_by("username")


class ConfigChoiceIterator(forms.models.ModelChoiceIterator):
    """The options of a configuration table (teams, categories, services) by name, from
    the per-process configuration cache (procedures.config_cache): drawing them costs no
    query (through the queryset, each select was a server-side cursor: three round trips)."""

    def _rows(self):
        rows = config_cache.snapshot().by_id[self.queryset.model].values()
        return sorted(rows, key=lambda row: (row.name.casefold(), row.pk))

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for row in self._rows():
            yield self.choice(row)

    def __len__(self):
        return len(self._rows()) + (self.field.empty_label is not None)


class ConfigChoiceField(forms.ModelChoiceField):
    """A choice of every row of a configuration table, by slug, drawn from the cache. A
    value chosen is still checked against the table itself."""

    iterator = ConfigChoiceIterator

    def __init__(self, model, **kwargs):
        super().__init__(queryset=model.objects.all(), to_field_name="slug", **kwargs)


class OneQueryChoiceIterator(forms.models.ModelChoiceIterator):
    """Options read with one plain query rather than a server-side cursor (Django's
    default for a choice field's queryset: DECLARE, FETCH and CLOSE, three round trips)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class StaffChoiceField(forms.ModelChoiceField):
    iterator = OneQueryChoiceIterator


def _reason(label="Reason"):
    return forms.CharField(label=label, max_length=limits.REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))


# --- the queue --------------------------------------------------------------------------


YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]


def _yes_no(label):
    return forms.TypedChoiceField(
        label=label, choices=YES_NO, coerce=lambda v: v == "true", empty_value=None, required=False,
        widget=QuickSelect,
    )


class QueueFilterForm(forms.Form):
    """The queue's filters, with the API's query names. Blank status means the open ones;
    `all` means every status. `assignee` is `none` (unassigned), `me` or a username."""

    OPEN, ALL = "", "all"
    NONE, ME = "none", "me"
    # sort -> (field, descending): each is one keyset on (field, id) over its own index.
    SORTS = {"-created": ("created_at", True), "due": ("resolve_due_at", False), "priority": ("priority", False)}
    FILTERS = (
        "q", "status", "team", "priority", "assignee", "category", "service", "breached", "warning", "major",
        "created_after", "created_before", "resolved_after", "resolved_before",
    )  # fmt: skip

    q = forms.CharField(label="Search", max_length=200, required=False)
    status = forms.ChoiceField(
        choices=[(OPEN, "Open"), (ALL, "Any status"), *Status.choices], required=False, widget=QuickSelect
    )
    team = ConfigChoiceField(Team, required=False, empty_label="Any team", widget=QuickSelect)
    priority = forms.TypedChoiceField(
        choices=[("", "Any priority"), *PRIORITY_CHOICES], coerce=int, empty_value=None, required=False,
        widget=QuickSelect,
    )
    assignee = forms.CharField(
        label="Assignee", max_length=150, required=False,
        help_text="none (unassigned), me, or a username",
    )  # fmt: skip
    category = ConfigChoiceField(Category, required=False, empty_label="Any category", widget=QuickSelect)
    service = ConfigChoiceField(Service, required=False, empty_label="Any service", widget=QuickSelect)
    breached = _yes_no("Breached")
    warning = _yes_no("At risk")
    major = _yes_no("Major")
    created_after = forms.DateTimeField(required=False, label="Created from")
    created_before = forms.DateTimeField(required=False, label="Created before")
    resolved_after = forms.DateTimeField(required=False, label="Resolved from")
    resolved_before = forms.DateTimeField(required=False, label="Resolved before")
    sort = forms.ChoiceField(
        label="Sort",
        choices=[("-created", "Newest first"), ("due", "Due soonest"), ("priority", "Priority")],
        required=False,
        widget=QuickSelect,
    )

    def clean_assignee(self):
        value = self.cleaned_data["assignee"].strip()
        if value in ("", self.NONE, self.ME):
            return value
        if not Person.objects.filter(username=value).exists():
            raise forms.ValidationError("There is nobody with that username.")
        return value

    def ordering(self):
        """(field, descending) of the chosen sort; newest first by default."""
        return self.SORTS.get((self.cleaned_data or {}).get("sort") or "-created", self.SORTS["-created"])

    def filter_data(self, person, *, without=()):
        """The query for `IncidentFilter`, from the cleaned values (leaving out `without`)."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in without}
        query = {}
        if "status" in without or data.get("status") == self.ALL:
            pass
        elif data.get("status"):
            query["status"] = [data["status"]]
        else:
            query["status"] = [status.value for status in OPEN_STATUSES]
        for name in ("team", "category", "service"):
            if data.get(name):
                query[name] = data[name].slug
        if data.get("priority"):
            query["priority"] = [str(data["priority"])]
        assignee = data.get("assignee")
        if assignee == self.NONE:
            query["unassigned"] = "true"
        elif assignee == self.ME:
            query["assignee"] = person.username
        elif assignee:
            query["assignee"] = assignee
        for name in ("breached", "warning", "major"):
            if data.get(name) is not None:
                query[name] = "true" if data[name] else "false"
        for name in ("created_after", "created_before", "resolved_after", "resolved_before"):
            if data.get(name):
                query[name] = data[name].isoformat()
        if data.get("q"):
            query["q"] = data["q"]
        return query


# --- registration ------------------------------------------------------------------------


class CallerField(forms.ModelChoiceField):
    """The caller, by username or email address (the lookup offers both)."""

    def to_python(self, value):
        value = (value or "").strip()
        if value in self.empty_values:
            return None
        field = "email__iexact" if "@" in value else "username"
        found = list(self.queryset.filter(**{field: value})[:2])
        if len(found) != 1:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return found[0]


STAFF_CHANNELS = [
    (Channel.PHONE, "Phone"), (Channel.EMAIL, "Email"), (Channel.WALK_IN, "Walk-in"),
    (Channel.WEB, "Web"), (Channel.CHAT, "Chat"),
]  # fmt: skip


class SimilarForm(forms.Form):
    title = forms.CharField(max_length=limits.TITLE_MAX, required=False)


class IncidentRegisterForm(forms.ModelForm):
    """Report an incident. Staff registering a call name the caller (a username or an
    email address) and the channel it came through. The one-time `registration_key` makes
    a second submission of the same form find the first incident instead of a new one."""

    reporter = CallerField(
        queryset=Person.objects.filter(is_active=True),
        to_field_name="username",
        required=False,
        label="Caller",
        help_text="Type a name, username or email address and choose from the list. Leave blank if it is you.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "caller-options"}),
        error_messages={"invalid_choice": "There is no active person with that username or email address."},
    )
    channel = forms.ChoiceField(
        choices=STAFF_CHANNELS, initial=Channel.PHONE, required=False, label="Channel",
        help_text="How the call reached you (left out: the web).",
    )
    registration_key = forms.UUIDField(required=False, widget=forms.HiddenInput)
    link_to = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    title = forms.CharField(max_length=limits.TITLE_MAX)
    description = forms.CharField(required=False, max_length=limits.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 6}))

    class Meta:
        model = Incident
        fields = ["title", "description", "category", "service", "impact", "urgency", "reporter"]
        help_texts = {
            "impact": "How widely it is felt: 1 many people or a critical service, 3 one person.",
            "urgency": "How soon it hurts: 1 now, 3 it can wait.",
        }

    def __init__(self, *args, may_name_reporter=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_name_reporter:
            del self.fields["reporter"]
            del self.fields["channel"]  # reporters use the web form: the channel is the web
        self.fields["category"].empty_label = "Choose a category"
        self.fields["service"].empty_label = "Not sure / none"
        self.fields["impact"].choices = Level.choices
        self.fields["urgency"].choices = Level.choices
        self.fields["impact"].initial = Level.MEDIUM
        self.fields["urgency"].initial = Level.MEDIUM

    def _post_clean(self):
        # Skip ModelForm's instance validation: the service builds and checks the incident.
        pass

    def clean_link_to(self):
        value = self.cleaned_data["link_to"].strip().upper()
        if value and Incident.pk_from_reference(value) is None:
            raise forms.ValidationError("Not an incident reference.")
        return value

    def service_kwargs(self):
        data = self.cleaned_data
        kwargs = {name: data[name] for name in ("title", "description", "category", "service", "impact", "urgency")}
        kwargs["reporter"] = data.get("reporter")
        kwargs["channel"] = data.get("channel") or Channel.WEB
        kwargs["registration_key"] = data.get("registration_key")
        return kwargs


# --- actions on an incident --------------------------------------------------------------


class EmptyForm(forms.Form):
    pass


class AssignForm(forms.Form):
    team = ConfigChoiceField(Team, required=False, empty_label="Keep the team", widget=QuickSelect)
    assignee = StaffChoiceField(
        queryset=_staff(),
        to_field_name="username",
        required=False,
        empty_label="Nobody yet",
        error_messages={"invalid_choice": "There is no active staff member with that username."},
        widget=QuickSelect,
    )

    def __init__(self, *args, team_staff=None, may_allocate_person=True, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_allocate_person:
            del self.fields["assignee"]
        elif team_staff is not None:
            # Offer the incident's team; any staff member still validates, and the service
            # says why one from another team does not fit.
            self.fields["assignee"].widget.choices = [("", "Nobody yet")] + [
                (person.username, f"{person} ({person.username})") for person in team_staff
            ]

    def clean(self):
        data = super().clean()
        if not data.get("team") and not data.get("assignee"):
            raise forms.ValidationError("Choose a team, a person or both.")
        return data

    def service_kwargs(self):
        return {"team": self.cleaned_data.get("team"), "assignee": self.cleaned_data.get("assignee")}


class ReasonForm(forms.Form):
    reason = _reason()


class CloseForm(forms.Form):
    """Close a resolved incident. The override reason is offered only where it can help:
    mandatory tasks are open and the person may override the checklist."""

    override_reason = forms.CharField(
        required=False, max_length=limits.REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}),
        label="Override reason",
        help_text="Mandatory tasks are still open (see the checklist). To close anyway, say why: "
                  "the reason and the open tasks go on the timeline.",
    )  # fmt: skip

    def __init__(self, *args, may_override=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_override:
            del self.fields["override_reason"]

    def service_kwargs(self):
        return {"override_reason": self.cleaned_data.get("override_reason", "")}


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = str(obj)
        return obj.username if name == obj.username else f"{name} ({obj.username})"


class DeclareMajorForm(ReasonForm):
    """Declare a major incident. The communications lead is chosen from `comms_leads`
    (staff who may lead one); left blank, the declarer leads."""

    comms_lead = PersonChoiceField(
        queryset=Person.objects.none(),
        to_field_name="username",
        required=False,
        label="Communications lead",
        empty_label="Me",
        help_text="Keeps the stakeholders informed. Needs SFIA level 5.",
        error_messages={"invalid_choice": "Choose a member of staff at SFIA level 5."},
    )

    def __init__(self, *args, comms_leads=None, **kwargs):
        super().__init__(*args, **kwargs)
        if comms_leads is not None:
            self.fields["comms_lead"].queryset = comms_leads

    def service_kwargs(self):
        return {"reason": self.cleaned_data["reason"], "comms_lead": self.cleaned_data.get("comms_lead")}


class DeadlineMetForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=limits.REASON_MAX, label="Note", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: who was told, a case number.",
    )  # fmt: skip


class WatchForm(forms.Form):
    """Follow an incident (1) or stop following it (0)."""

    watching = forms.TypedChoiceField(choices=[("1", "Watch"), ("0", "Stop watching")], coerce=lambda v: v == "1")


class PrioritiseForm(forms.Form):
    priority = forms.TypedChoiceField(choices=PRIORITY_CHOICES, coerce=int, widget=QuickSelect)
    reason = _reason("Why this priority")


class EscalateForm(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        label="Hand to team",
        empty_label="No: raise the escalation level",
    )
    reason = _reason()


class ResolveForm(forms.Form):
    resolution_code = forms.CharField(
        max_length=limits.RESOLUTION_CODE_MAX,
        label="Resolution code",
        widget=forms.TextInput(attrs={"list": "resolution-codes"}),
    )
    resolution_notes = forms.CharField(
        max_length=limits.TEXT_MAX, label="What was done", widget=forms.Textarea(attrs={"rows": 3})
    )
    cause = forms.CharField(
        max_length=limits.TEXT_MAX, required=False, label="Cause (if known)", widget=forms.Textarea(attrs={"rows": 2})
    )


class ComposeForm(forms.Form):
    """The incident page's always-open composer: an internal work note or a public update."""

    NOTE, UPDATE = "note", "update"
    kind = forms.ChoiceField(
        label="Who sees it",
        choices=[(NOTE, "Internal note (staff only)"), (UPDATE, "Public update (the reporter and stakeholders are told)")],
        widget=forms.RadioSelect,
        initial=NOTE,
    )
    body = forms.CharField(
        label="Message", max_length=limits.TEXT_MAX, strip=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, kinds=(NOTE, UPDATE), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        field.choices = [choice for choice in field.choices if choice[0] in kinds]
        if self.NOTE not in kinds:
            field.initial = self.UPDATE

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write something.")
        return body


class IncidentEditForm(forms.Form):
    """Edit in place: the fields `incidents.services.incident_update` changes."""

    title = forms.CharField(max_length=limits.TITLE_MAX)
    description = forms.CharField(required=False, max_length=limits.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 4}))
    category = forms.ModelChoiceField(queryset=None, to_field_name="slug", empty_label=None)
    service = forms.ModelChoiceField(queryset=None, to_field_name="slug", required=False, empty_label="None")
    impact = forms.TypedChoiceField(choices=Level.choices, coerce=int)
    urgency = forms.TypedChoiceField(choices=Level.choices, coerce=int)

    def __init__(self, *args, incident=None, **kwargs):
        from procedures.models import Category, Service

        if incident is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                "title": incident.title, "description": incident.description,
                "category": incident.category.slug, "service": incident.service.slug if incident.service_id else "",
                "impact": incident.impact, "urgency": incident.urgency,
            }  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.order_by("name")
        self.fields["service"].queryset = Service.objects.order_by("name")

    def service_kwargs(self):
        return dict(self.cleaned_data)


class BodyForm(forms.Form):
    body = forms.CharField(max_length=limits.TEXT_MAX, strip=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write something.")
        return body


# --- requesters' own pages ------------------------------------------------------------------


# "How bad is it?": a requester's plain answer, as (impact, urgency).
HOW_BAD = {
    "many_stopped": ("Many people cannot work", 1, 1),
    "stopped": ("I cannot work", 3, 1),
    "slowed": ("I can work, but it slows me down", 3, 2),
    "minor": ("It is a nuisance or a question", 3, 3),
}


class RequesterReportForm(forms.Form):
    title = forms.CharField(label="What is wrong?", max_length=limits.TITLE_MAX,
                            help_text="One line, for example “Cannot print from my laptop”.")
    description = forms.CharField(label="Tell us more", required=False, max_length=limits.TEXT_MAX,
                                  widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text="What you were doing, what you expected, any error message.")
    category = forms.ModelChoiceField(label="What is it about?", queryset=None, empty_label="Choose one")
    service = forms.ModelChoiceField(label="Which service?", queryset=None, required=False, empty_label="Not sure")
    how_bad = forms.ChoiceField(label="How bad is it?", widget=forms.RadioSelect,
                                choices=[(key, label) for key, (label, _, _) in HOW_BAD.items()])
    registration_key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        from procedures.models import Category, IncidentClass, Service

        super().__init__(*args, **kwargs)
        # Security reports go through the staff (or the security team's own channel).
        self.fields["category"].queryset = Category.objects.exclude(
            procedure__incident_class=IncidentClass.SECURITY
        ).order_by("name")
        self.fields["service"].queryset = Service.objects.order_by("name")

    def service_kwargs(self):
        data = self.cleaned_data
        _, impact, urgency = HOW_BAD[data["how_bad"]]
        return {
            "title": data["title"], "description": data["description"], "category": data["category"],
            "service": data["service"], "impact": impact, "urgency": urgency,
            "registration_key": data.get("registration_key"),
        }  # fmt: skip


class AttachmentForm(forms.Form):
    """A file to attach: the service checks its type, content and size."""

    file = forms.FileField(label="File", max_length=255, error_messages={"required": errors.NO_FILE})


class ReplyForm(forms.Form):
    body = forms.CharField(label="Your reply", max_length=limits.TEXT_MAX, strip=False,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write something.")
        return body


class ConfirmForm(forms.Form):
    """The answer to a resolution: fixed, or not fixed (which reopens it, with why)."""

    fixed = forms.TypedChoiceField(choices=[("yes", "Yes, it is fixed"), ("no", "No, it is not fixed")],
                                   coerce=lambda v: v == "yes")
    reason = forms.CharField(label="What is still wrong?", required=False, max_length=limits.REASON_MAX,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        if data.get("fixed") is False and not (data.get("reason") or "").strip():
            self.add_error("reason", "Tell us what is still wrong.")
        return data


# --- the queue: bulk actions and saved views ---------------------------------------------


class ReferenceListField(forms.Field):
    """Incident references, from repeated `incidents` values (the queue's checkboxes)."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_count, **kwargs):
        self.max_count = max_count
        super().__init__(**kwargs)

    def to_python(self, value):
        return [str(v).strip().upper() for v in (value or []) if str(v).strip()]

    def validate(self, value):
        if not value:
            raise forms.ValidationError("Select at least one incident.")
        if len(value) > self.max_count:
            raise forms.ValidationError(f"Select at most {self.max_count} incidents at once.")
        bad = [v for v in value if Incident.pk_from_reference(v) is None]
        if bad:
            raise forms.ValidationError(f"Not an incident reference: {', '.join(bad[:5])}.")


class BulkForm(forms.Form):
    """Which incidents, and which action; the action's own form parses the rest."""

    incidents = ReferenceListField(max_count=100, label="Incidents")
    action = forms.ChoiceField(
        choices=[("assign", "Assign"), ("prioritise", "Prioritise"), ("resolve", "Resolve"), ("close", "Close")]
    )


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=60, label="Name")
    query = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)
    share = forms.ModelChoiceField(
        queryset=Team.objects.none(), to_field_name="slug", required=False,
        label="Share with", empty_label="Only me",
    )  # fmt: skip

    def __init__(self, *args, person=None, **kwargs):
        super().__init__(*args, **kwargs)
        if person is not None:
            self.fields["share"].queryset = person.teams.order_by("name")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the view a name.")
        return name


class PublishForm(forms.Form):
    """Show the incident on the public status page, under a public title."""

    public = forms.BooleanField(required=False, label="Show on the public status page")
    public_title = forms.CharField(
        required=False, max_length=limits.TITLE_MAX, label="Public title",
        help_text="What the public reads. Left blank: “Service disruption” and the service's name.",
    )  # fmt: skip
