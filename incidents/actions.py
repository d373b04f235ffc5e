"""The one table of what can be done to an incident: for each action its URL name, its
label, the policy action its button is offered for, the service that does it, the
browser form and the API body. The pages and the API are built from this table; both
check only that the person may see the incident, and leave every level decision to the
service (which asks the policy with the incident's procedure), so a procedure that
lowers or raises an action's level works the same everywhere."""

from dataclasses import dataclass

from incidents import forms, lifecycle, serializers, services
from skills.policy import Action


@dataclass(frozen=True)
class IncidentAction:
    name: str  # the URL part: POST /incidents/<reference>/<name>/ and /api/v1/incidents/<reference>/<name>/
    label: str
    policy: Action  # whom the browser offers it to; the service decides
    service: object
    form: type
    serializer: type
    danger: bool = False

    def is_offered(self, incident):
        """Would the incident's state let it go ahead? (`incidents.lifecycle`, the table
        the services guard with; the service still decides and says 409.)"""
        return lifecycle.allows(self.name, incident)

    def call(self, *, actor, incident, data):
        """Run the service with the cleaned input of the form or the serializer."""
        return self.service(actor=actor, incident=incident, **data)


S = serializers
ACTIONS = {
    action.name: action
    for action in [
        IncidentAction("acknowledge", "Acknowledge", Action.ACKNOWLEDGE, services.incident_acknowledge,
                       forms.EmptyForm, S.EmptySerializer),
        IncidentAction("start", "Start work", Action.START, services.incident_start, forms.EmptyForm,
                       S.EmptySerializer),
        IncidentAction("resume", "Resume work", Action.RESUME, services.incident_resume, forms.EmptyForm,
                       S.EmptySerializer),
        IncidentAction("close", "Close", Action.CLOSE, services.incident_close, forms.CloseForm, S.CloseSerializer),
        IncidentAction("assign", "Assign", Action.ALLOCATE_TEAM, services.incident_assign, forms.AssignForm,
                       S.AssignSerializer),
        IncidentAction("notes", "Add a work note", Action.NOTE, services.incident_add_note, forms.BodyForm,
                       S.BodySerializer),
        IncidentAction("updates", "Post a public update", Action.PUBLIC_UPDATE,
                       services.incident_add_public_update, forms.BodyForm, S.BodySerializer),
        IncidentAction("hold", "Put on hold", Action.HOLD, services.incident_hold, forms.ReasonForm,
                       S.ReasonSerializer),
        IncidentAction("prioritise", "Change priority", Action.PRIORITISE, services.incident_prioritise,
                       forms.PrioritiseForm, S.PrioritiseSerializer),
        IncidentAction("escalate", "Escalate", Action.ESCALATE, services.incident_escalate, forms.EscalateForm,
                       S.EscalateSerializer),
        IncidentAction("resolve", "Resolve", Action.RESOLVE, services.incident_resolve, forms.ResolveForm,
                       S.ResolveSerializer),
        IncidentAction("reopen", "Reopen", Action.REOPEN, services.incident_reopen, forms.ReasonForm,
                       S.ReasonSerializer),
        IncidentAction("publish", "Public status page", Action.PUBLISH_STATUS, services.incident_publish,
                       forms.PublishForm, S.PublishSerializer),
        IncidentAction("declare-major", "Declare a major incident", Action.DECLARE_MAJOR,
                       services.incident_declare_major, forms.DeclareMajorForm, S.DeclareMajorSerializer, danger=True),
        IncidentAction("cancel", "Cancel", Action.CANCEL, services.incident_cancel, forms.ReasonForm,
                       S.ReasonSerializer, danger=True),
    ]
}  # fmt: skip
