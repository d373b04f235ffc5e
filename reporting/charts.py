"""Server-rendered SVG charts: the geometry is worked out here, the template draws
rectangles and labels (no script, no inline style)."""

WIDTH, HEIGHT, PAD = 640, 200, 28


def columns(points, *, value="count", label="period"):
    """A column chart of `points` (dicts): one bar per point, scaled to the largest."""
    points = [p for p in points if p.get(value) is not None]
    if not points:
        return None
    top = max(p[value] for p in points) or 1
    slot = (WIDTH - 2 * PAD) / len(points)
    bar = max(1.0, slot * 0.8)
    out = []
    for n, point in enumerate(points):
        height = (HEIGHT - 2 * PAD) * point[value] / top
        out.append(
            {
                "x": round(PAD + n * slot + (slot - bar) / 2, 1),
                "y": round(HEIGHT - PAD - height, 1),
                "width": round(bar, 1),
                "height": round(height, 1),
                "label": point[label],
                "value": point[value],
            }
        )
    return {"width": WIDTH, "height": HEIGHT, "bars": out, "top": top, "baseline": HEIGHT - PAD,
            "first": out[0]["label"], "last": out[-1]["label"]}  # fmt: skip


def bars(items):
    """A horizontal bar chart of (label, value) pairs, scaled to the largest."""
    items = [(label, v) for label, v in items if v is not None]
    if not items:
        return None
    top = max(v for _, v in items) or 1
    row, label_width = 26, 160
    out = []
    for n, (label, v) in enumerate(items):
        out.append(
            {"y": n * row + 4, "text_y": n * row + 18, "width": round((WIDTH - label_width - 80) * v / top, 1),
             "label": label, "value": v}
        )  # fmt: skip
    return {"width": WIDTH, "height": len(items) * row + 8, "bars": out, "x": label_width}
