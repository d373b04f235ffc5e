"""Priority from impact x urgency: the ITIL 3x3 default matrix (1 is highest)."""

DEFAULT_MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}  # fmt: skip


def priority_for(impact, urgency, matrix=None):
    return (matrix or DEFAULT_MATRIX)[(int(impact), int(urgency))]
