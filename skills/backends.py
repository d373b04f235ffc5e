"""The session's person, loaded once per request with what the policy asks of them."""

from django.contrib.auth.backends import ModelBackend

from skills.models import Person
from skills.policy import with_security_responder


class PersonBackend(ModelBackend):
    """Django's ModelBackend, whose per-request `get_user` also reads whether the person
    may see security incidents (`skills.policy.is_security_responder`): one query for the
    person instead of two. Read afresh on every request, so a person taken out of the
    security incident response team stops seeing its incidents on their next request."""

    def get_user(self, user_id):
        try:
            person = with_security_responder(Person._default_manager.all()).get(pk=user_id)
        except Person.DoesNotExist:
            return None
        return person if self.user_can_authenticate(person) else None
