from django.core.management.base import BaseCommand, CommandError

from skills.models import ApiToken, Person
from skills.services import token_issue


class Command(BaseCommand):
    help = "Issue an API token for a person and print it (alone) on stdout. It is shown only once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label for the token.")
        parser.add_argument("--scope", default=ApiToken.Scope.WRITE, choices=ApiToken.Scope.values)

    def handle(self, *args, username, name, scope, **options):
        try:
            person = Person.objects.get(username=username, is_active=True)
        except Person.DoesNotExist:
            raise CommandError(f"No active person with username {username!r}.") from None
        _, raw = token_issue(person=person, name=name or "issued from the command line", scope=scope)
        self.stdout.write(raw)
