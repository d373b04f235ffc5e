import factory
from django.utils import timezone

from procedures.models import (
    Calendar,
    Category,
    IncidentClass,
    Procedure,
    ProcedureVersion,
    Service,
)
from skills.models import Person, Role, Team

TARGETS = {str(p): {"response": 900 * p, "resolution": 3600 * p} for p in range(1, 6)}


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    role = Role.STAFF
    sfia_level = 1
    password = factory.django.Password("pw")

    @factory.post_generation
    def teams(self, create, extracted, **kwargs):
        if create and extracted:
            self.teams.set(extracted)


class ReporterFactory(PersonFactory):
    role = Role.REPORTER
    sfia_level = None


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Calendar
        django_get_or_create = ["slug"]

    slug = "24x7"
    name = "Around the clock"
    timezone = "UTC"
    around_the_clock = True
    working_hours = factory.LazyFunction(dict)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class ProcedureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Procedure
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"procedure-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    incident_class = IncidentClass.STANDARD


class ProcedureVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcedureVersion

    procedure = factory.SubFactory(ProcedureFactory)
    number = 1
    state = ProcedureVersion.State.PUBLISHED
    team = factory.SubFactory(TeamFactory)
    calendar = factory.SubFactory(CalendarFactory)
    sla_targets = factory.LazyFunction(lambda: dict(TARGETS))
    created_at = factory.LazyFunction(timezone.now)
    published_at = factory.LazyFunction(timezone.now)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    procedure = factory.SubFactory(ProcedureFactory)
