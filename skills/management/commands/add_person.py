from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from skills.models import Person, Role, Team


class Command(BaseCommand):
    help = "Create or update a person: staff with an SFIA level and teams, a reporter, a stakeholder or an integration."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--name", default="")
        parser.add_argument("--role", choices=Role.values, default=Role.STAFF)
        parser.add_argument("--level", type=int, choices=range(1, 6), help="SFIA level 1-5 (staff only)")
        parser.add_argument("--team", action="append", default=[], help="A team slug; repeat for several.")
        parser.add_argument("--password", help="Set this password (otherwise the person cannot log in with one).")

    @transaction.atomic
    def handle(self, *args, username, email, name, role, level, team, password, **options):
        if role == Role.STAFF and level is None:
            raise CommandError("Staff need an SFIA level: --level 1..5.")
        if role != Role.STAFF and level is not None:
            raise CommandError("Only staff have an SFIA level.")
        teams = list(Team.objects.filter(slug__in=team))
        missing = set(team) - {t.slug for t in teams}
        if missing:
            raise CommandError(f"No such team: {', '.join(sorted(missing))}.")
        person, created = Person.objects.get_or_create(username=username)
        person.email = email or person.email
        person.first_name = name or person.first_name
        person.role, person.sfia_level = role, level
        person.is_staff = level is not None and level >= 4  # the admin site, for levels 4 and 5
        if password:
            person.set_password(password)
        elif created:
            person.set_unusable_password()
        person.save()
        person.teams.set(teams)
        self.stdout.write(f"{'Created' if created else 'Updated'} {username}.")
