"""Formatting for the pages: scores, shares, trends and progress bars."""

from datetime import date, datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from feedback.pages.charts import HEALTH_LABELS, number

register = template.Library()


@register.filter
def num(value: float | None) -> str:
    return number(value)


@register.filter
def pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{round(value * 100)} %"


@register.filter
def signed_pct(value: float | None) -> str:
    """A share with its sign (a true minus sign when below 0): `+12 %`, `0 %`, `\u22125 %`."""
    if value is None:
        return "\u2013"
    points = round(value * 100)
    return f"+{points} %" if points > 0 else f"\u2212{-points} %" if points < 0 else "0 %"


@register.filter
def person(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.username)


@register.filter
def health_label(value: str | None) -> str:
    return HEALTH_LABELS.get(value or "", "No data")


@register.filter
def isodate(value: Any) -> date | datetime | None:
    """A date or timestamp from the payload's ISO text (or the value itself)."""
    if not value or not isinstance(value, str):
        return value
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


@register.simple_tag
def trend(value: float | None) -> SafeString:
    if value is None:
        return mark_safe('<p class="trend flat">No week-old score to compare</p>')
    if abs(value) < 0.05:
        return mark_safe('<p class="trend flat">Steady this week</p>')
    arrow, css = ("▲", "up") if value > 0 else ("▼", "down")
    return format_html(
        '<p class="trend {}"><span aria-hidden="true">{}</span> {}{} pts this week</p>',
        css, arrow, "+" if value > 0 else "\u2212", number(abs(value)),
    )  # fmt: skip


@register.simple_tag
def progress(done: float | None, expected: float | None) -> SafeString:
    """A bar of progress with a tick where the expected pace stands."""
    done_pct = round((done or 0) * 100, 1)
    expected_pct = round((expected or 0) * 100, 1)
    return format_html(
        '<div class="progress" role="img" aria-label="{} % done, {} % expected">'
        '<span class="done" style="width:{}%"></span><span class="expected" style="left:{}%"></span></div>',
        round(done_pct), round(expected_pct), done_pct, expected_pct,
    )  # fmt: skip
