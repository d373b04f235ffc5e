from rest_framework import authentication, exceptions

from skills.selectors import token_authenticate
from skills.services import token_touch


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. A missing header lets other schemes try; a bad
    token is a 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: use 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        token_touch(token=token)
        person = token.person
        person.token_scope = token.scope
        return person, token

    def authenticate_header(self, request):
        return self.keyword


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # pragma: no cover
    pass
else:

    class BearerTokenScheme(OpenApiAuthenticationExtension):
        target_class = "skills.auth.BearerTokenAuthentication"
        name = "bearerAuth"

        def get_security_definition(self, auto_schema):
            return {"type": "http", "scheme": "bearer", "description": "An API token from `manage.py issue_token`."}
