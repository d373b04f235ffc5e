from skills.models import ApiToken, Person, Role, Team


def token_authenticate(raw):
    """The live token for `raw`, with its person, or None."""
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > 200:
        return None
    return (
        ApiToken.objects.select_related("person")
        .filter(key_hash=ApiToken.digest(raw), revoked_at__isnull=True, person__is_active=True)
        .first()
    )


def staff_in_team(team):
    return Person.objects.filter(role=Role.STAFF, is_active=True, teams=team)


def teams_all():
    return Team.objects.order_by("name")


def tokens_of(person):
    """A person's API tokens, newest first."""
    return person.api_tokens.order_by("-created_at", "-pk")
