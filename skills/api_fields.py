"""Serializers for a JSON API, where a body's types are JSON's own. DRF's fields also take
what an HTML form sends (0 or "yes" for a boolean, 3 for a string, "3" for a number, ""
for a null reference); here such a value is a 400 naming the field, so what the OpenAPI
schema promises is what the API accepts."""

from collections.abc import Mapping

from rest_framework import relations, serializers
from rest_framework.fields import empty

MESSAGES = {
    bool: "Must be true or false.",
    int: "Must be a whole number.",
    float: "Must be a number.",
    str: "Must be a string.",
    list: "Must be a list.",
    dict: "Must be an object.",
}
BLANK_REFERENCE = "May not be blank: give one, or null for none."


def _is(value, kind):
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _expected(field):
    """The JSON type `field` takes (bool, int, float, str, list, dict), or None for any."""
    if isinstance(field, serializers.BooleanField):
        return bool
    if isinstance(field, serializers.IntegerField):
        return int
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return float
    if isinstance(field, (serializers.MultipleChoiceField, serializers.ListField, serializers.ListSerializer,
                          relations.ManyRelatedField)):  # fmt: skip
        return list
    if isinstance(field, serializers.ChoiceField):
        kinds = {type(key) for key in field.choices}
        return kinds.pop() if len(kinds) == 1 and kinds <= {int, str} else None
    if isinstance(field, relations.PrimaryKeyRelatedField):
        return int
    if isinstance(field, (relations.SlugRelatedField, serializers.CharField, serializers.DateTimeField,
                          serializers.DateField, serializers.TimeField, serializers.DurationField)):  # fmt: skip
        return str
    if isinstance(field, (serializers.DictField, serializers.BaseSerializer)):
        return dict
    return None


def type_error(field, value):
    """Why `value` (as parsed from JSON) cannot be `field`'s, or None."""
    if value is None:
        return None  # the field's own `allow_null` decides
    if value == "" and isinstance(field, relations.RelatedField) and field.allow_null:
        return BLANK_REFERENCE
    kind = _expected(field)
    if kind is None or not _is(value, kind):
        return None if kind is None else MESSAGES[kind]
    child = getattr(field, "child", None) or getattr(field, "child_relation", None)
    if kind is list and child is not None and not isinstance(field, serializers.ListSerializer):
        for item in value:
            problem = type_error(child, item)
            if problem:
                return f"Each item: {problem[0].lower()}{problem[1:]}"
    if kind is dict and isinstance(field, serializers.DictField) and child is not None:
        for item in value.values():
            problem = type_error(child, item)
            if problem:
                return f"Each value: {problem[0].lower()}{problem[1:]}"
    return None


class JSONTypes:
    """Check each given field's JSON type before DRF's fields convert the value; with
    `unknown_fields = False`, a field the serializer does not have is an error too (and the
    schema says `additionalProperties: false`)."""

    unknown_fields = True

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            if not self.unknown_fields:
                errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            for field in self._writable_fields:
                value = field.get_value(data)
                if value is not empty:
                    problem = type_error(field, value)
                    if problem:
                        errors[field.field_name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class JSONSerializer(JSONTypes, serializers.Serializer):
    pass


class JSONModelSerializer(JSONTypes, serializers.ModelSerializer):
    pass
