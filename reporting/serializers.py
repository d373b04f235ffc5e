from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from procedures.limits import TEXT_MAX, TITLE_MAX
from reporting.models import Review, ReviewAction
from skills.api_fields import JSONSerializer
from skills.models import Person, Role

REVIEW_STATES = [("open", "Open"), ("closed", "Closed")]


class ReviewActionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = ReviewAction
        fields = ["id", "title", "owner", "due_on", "reminded_at", "done_at", "done_by", "overdue"]

    @extend_schema_field(serializers.BooleanField())
    def get_overdue(self, action):
        now = self.context.get("now")
        return bool(now and action.is_overdue(now))


class ReviewSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="incident.reference", read_only=True)
    title = serializers.CharField(source="incident.title", read_only=True)
    is_security = serializers.BooleanField(source="incident.is_security", read_only=True)
    is_major = serializers.BooleanField(source="incident.is_major", read_only=True)
    service = serializers.SlugRelatedField(source="incident.service", slug_field="slug", read_only=True)
    lead = serializers.SlugRelatedField(slug_field="username", read_only=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id", "incident", "title", "is_major", "is_security", "service", "state", "lead", "opened_at", "due_at",
            "impact", "causes", "went_well", "went_badly", "outcome", "completed_at", "closed_by",
        ]  # fmt: skip

    @extend_schema_field(serializers.ChoiceField(choices=REVIEW_STATES))
    def get_state(self, review):
        return "open" if review.completed_at is None else "closed"


class ReviewDetailSerializer(ReviewSerializer):
    actions = serializers.SerializerMethodField()
    facts = serializers.SerializerMethodField()

    class Meta(ReviewSerializer.Meta):
        fields = [*ReviewSerializer.Meta.fields, "facts", "actions"]

    @extend_schema_field(ReviewActionSerializer(many=True))
    def get_actions(self, review):
        return ReviewActionSerializer(review.actions.all(), many=True, context=self.context).data

    @extend_schema_field(serializers.JSONField())
    def get_facts(self, review):
        from reporting.selectors import review_facts

        return serializers.JSONField().to_representation(_jsonable(review_facts(review)))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class ReviewRequestSerializer(JSONSerializer):
    incident = serializers.RegexField(r"^INC-\d{6,}$", help_text="The incident's reference.")


class ReviewUpdateSerializer(JSONSerializer):
    unknown_fields = False  # a misspelt field would otherwise be a 200 that saved nothing

    impact = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    causes = serializers.ListField(
        child=serializers.CharField(max_length=500, allow_blank=True), required=False, max_length=20,
        help_text="Contributing factors, one short text each.",
    )  # fmt: skip
    went_well = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    went_badly = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)


class ReviewActionCreateSerializer(JSONSerializer):
    title = serializers.CharField(max_length=TITLE_MAX)
    owner = serializers.SlugRelatedField(slug_field="username", queryset=Person.objects.filter(role=Role.STAFF))
    due_on = serializers.DateField(input_formats=["%Y-%m-%d"])


class ReviewCloseSerializer(JSONSerializer):
    outcome = serializers.CharField(max_length=TEXT_MAX)
