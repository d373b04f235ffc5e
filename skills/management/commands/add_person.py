from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from skills import services
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
        person = Person.objects.filter(username=username).first()
        try:
            # actor None: the command line, recorded as such in the people audit.
            if person is None:
                services.person_create(
                    actor=None, username=username, email=email, first_name=name, role=role, sfia_level=level,
                    teams=teams, password=password,
                )  # fmt: skip
            else:
                changes = {"role": role, "sfia_level": level, "teams": teams}
                if email:
                    changes["email"] = email
                if name:
                    changes["first_name"] = name
                services.person_change(actor=None, person=person, **changes)
                if password:
                    services.person_set_password(actor=None, person=person, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())) from None
        self.stdout.write(f"{'Created' if person is None else 'Updated'} {username}.")
