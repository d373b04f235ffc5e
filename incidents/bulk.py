"""Bulk actions from the queue: the same action, service and policy as on one incident,
one transaction per incident, and an answer per reference."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.http import Http404

from incidents import errors
from incidents.actions import ACTIONS
from incidents.selectors import access_incident
from skills.errors import DomainError

# What the queue offers in bulk: each is an entry of the one actions table.
BULK_ACTIONS = ("assign", "prioritise", "resolve", "close")
MAX_BULK = 100


@dataclass(frozen=True)
class Outcome:
    reference: str
    ok: bool
    message: str


def incidents_bulk_act(*, actor, references, action, data):
    """Run ACTIONS[action] with the same cleaned `data` on each incident in `references`.
    Each runs through its service (its own transaction, row lock, policy and state
    guard), so one refusal never undoes another's success. Returns one Outcome per
    reference, in the order given."""
    spec = ACTIONS[action]
    outcomes = []
    for reference in dict.fromkeys(references):  # each once, in order
        try:
            incident = access_incident(actor, reference)
            spec.call(actor=actor, incident=incident, data=data)
        except Http404:
            outcomes.append(Outcome(reference, False, errors.BULK_NOT_FOUND))
        except DomainError as exc:  # Forbidden (403) and Conflict (409) alike
            outcomes.append(Outcome(reference, False, exc.message))
        except ValidationError as exc:
            outcomes.append(Outcome(reference, False, " ".join(exc.messages)))
        else:
            outcomes.append(Outcome(reference, True, f"{spec.label}: done."))
    return outcomes
