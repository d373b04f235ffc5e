"""The queue's quick widgets draw exactly what Django's templates draw."""

import pytest
from django import forms
from django.template import Context, Template

from incidents.forms import QuickSelect
from incidents.templatetags.sla import sla_due


class Plain(forms.Form):
    colour = forms.ChoiceField(choices=[("", "Any"), ("red", "Red <hot>"), ("blue", "Blue")], required=False)
    grouped = forms.ChoiceField(choices=[("Warm", [("r", "Red"), ("o", "Orange")]), ("c", "Cold & \"icy\"")])


class Quick(Plain):
    colour = forms.ChoiceField(
        choices=[("", "Any"), ("red", "Red <hot>"), ("blue", "Blue")], required=False, widget=QuickSelect
    )
    grouped = forms.ChoiceField(
        choices=[("Warm", [("r", "Red"), ("o", "Orange")]), ("c", "Cold & \"icy\"")], widget=QuickSelect
    )


@pytest.mark.parametrize("data", [None, {"colour": "red", "grouped": "o"}, {"colour": "nope"}])
def test_quick_select_draws_what_django_draws(data):
    plain, quick = Plain(data, auto_id="id_%s"), Quick(data, auto_id="id_%s")
    if data:
        plain.is_valid(), quick.is_valid()
    for name in ("colour", "grouped"):
        assert str(quick[name]) == str(plain[name])
        # The field group too (label, errors, aria attributes).
        assert quick[name].as_field_group() == plain[name].as_field_group()


def test_quick_select_with_disabled_and_multiple_attributes():
    widget, plain = QuickSelect(attrs={"disabled": True, "data-x": "1", "hidden": False}), forms.Select(
        attrs={"disabled": True, "data-x": "1", "hidden": False}
    )
    widget.choices = plain.choices = [("a", "A"), ("b", "B")]
    assert widget.render("x", "b", {"id": "id_x"}) == plain.render("x", "b", {"id": "id_x"})


OLD_DUE = (
    '{% if mark == "breached" %}<span class="sla sla-breached" title="The target was missed"><span aria-hidden="true">⚠</span> Breached</span>\n'
    '{% elif mark == "warning" %}<span class="sla sla-warning" title="Past the warning point: the target is close"><span aria-hidden="true">◔</span> Warning</span>\n'
    '{% elif mark == "running" %}<span class="sla sla-running" title="The clock is running">Running</span>\n'
    '{% elif mark == "met" %}<span class="sla sla-met" title="The target was met"><span aria-hidden="true">✓</span> Met</span>\n'
    '{% elif mark == "paused" %}<span class="sla sla-paused" title="On hold: the clock is paused">Paused</span>\n'
    '{% endif %}{% if due and mark != "met" and mark != "paused" %}<time class="due due-{{ mark }}" data-countdown '
    "datetime=\"{{ due|date:'c' }}\" title=\"{{ due|date:'Y-m-d H:i T' }}\">{{ due|date:\"d M H:i\" }}</time>{% endif %}"
)


@pytest.mark.parametrize("mark", ["breached", "warning", "running", "met", "paused", "unknown"])
@pytest.mark.parametrize("with_due", [True, False])
def test_sla_due_draws_what_the_template_drew(mark, with_due, settings):
    from datetime import UTC, datetime

    settings.TIME_ZONE = "Europe/Amsterdam"
    due = datetime(2026, 3, 29, 1, 30, tzinfo=UTC) if with_due else None  # the night the clocks change
    expected = Template(OLD_DUE).render(Context({"mark": mark, "due": due}))
    assert str(sla_due(mark, due)) == expected
