import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class SfiaLevel(models.IntegerChoices):
    FOLLOW = 1, "1 Follow"
    ASSIST = 2, "2 Assist"
    APPLY = 3, "3 Apply"
    ENABLE = 4, "4 Enable"
    ENSURE = 5, "5 Ensure, advise"


class Role(models.TextChoices):
    STAFF = "staff", "Service desk staff"
    REPORTER = "reporter", "Reporter (end user or customer)"
    STAKEHOLDER = "stakeholder", "Stakeholder or service owner"
    INTEGRATION = "integration", "Integration account"


class Team(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    is_security = models.BooleanField(
        default=False, help_text="The security incident response team: sees security incidents."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Person(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REPORTER)
    sfia_level = models.PositiveSmallIntegerField(choices=SfiaLevel.choices, null=True, blank=True)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)

    class Meta:
        verbose_name = "person"
        verbose_name_plural = "people"
        indexes = [
            # Email in finds the sender by address, case-insensitively (email__iexact is UPPER()).
            models.Index(Upper("email"), name="person_email_upper"),
        ]
        constraints = [
            models.CheckConstraint(
                name="staff_have_a_level",
                condition=(Q(role="staff", sfia_level__isnull=False) | (~Q(role="staff") & Q(sfia_level__isnull=True))),
                violation_error_message="Staff need an SFIA level (1 to 5), and only staff have one.",
            )
        ]

    def __str__(self):
        return self.get_full_name() or self.username


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored: the token is shown once, when issued."""

    PREFIX = "fbk_"

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.WRITE)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.hint}… ({self.person})"

    @staticmethod
    def generate():
        return ApiToken.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def digest(raw):
        # Tokens carry 256 random bits, so a fast hash is enough; no salt is needed.
        return hashlib.sha256(raw.encode()).hexdigest()


class PersonChange(models.Model):
    """The audit trail of people management, kept like an incident's timeline: who changed
    whose account, when, and the values before and after (never a password). Append-only:
    written by `skills.services`, shown read-only in the admin."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        PASSWORD = "password", "Password set"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="account_changes")
    # Null when the change came from the command line (`manage.py add_person`).
    actor = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, help_text="Who made the change (kept as written).")
    at = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "at"], name="person_change_person_at")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.person_id} by {self.actor_name}"
