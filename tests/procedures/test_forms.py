from procedures.forms import ACTION_CHOICES, ANCHOR_CHOICES
from procedures.validation import ANCHORS, STEP_ACTIONS


def test_the_step_forms_offer_every_anchor_and_action_the_validation_knows():
    assert {value for value, _ in ANCHOR_CHOICES} == set(ANCHORS)
    assert {value for value, _ in ACTION_CHOICES} == set(STEP_ACTIONS)
