"""`{% sla_due mark due %}`: one SLA clock as the queue and the incident page draw it.

`mark` is the clock's state from incidents.clocks (running, warning, breached, met,
paused), the same word the API gives; `due` is optional. Built in Python rather than an
included template: the queue draws it twice per row, and an include per cell was a tenth
of the page's time."""

from django import template
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

register = template.Library()

BADGES = {
    "breached": ("sla sla-breached", "The target was missed", "⚠", "Breached"),
    "warning": ("sla sla-warning", "Past the warning point: the target is close", "◔", "Warning"),
    "running": ("sla sla-running", "The clock is running", None, "Running"),
    "met": ("sla sla-met", "The target was met", "✓", "Met"),
    "paused": ("sla sla-paused", "On hold: the clock is paused", None, "Paused"),
}


@register.simple_tag
def sla_due(mark, due=None):
    badge = ""
    if mark in BADGES:
        css, title, icon, word = BADGES[mark]
        if icon:
            badge = format_html('<span class="{}" title="{}"><span aria-hidden="true">{}</span> {}</span>\n', css, title, icon, word)
        else:
            badge = format_html('<span class="{}" title="{}">{}</span>\n', css, title, word)
    if not due or mark in ("met", "paused"):
        return badge  # (a simple_tag's str is escaped: format_html's is kept)
    local = localtime(due)
    return format_html(
        '{}<time class="due due-{}" data-countdown datetime="{}" title="{}">{}</time>',
        badge, mark, date_format(local, "c"), date_format(local, "Y-m-d H:i T"), date_format(local, "d M H:i"),
    )
