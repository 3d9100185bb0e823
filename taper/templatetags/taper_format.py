"""`{% load taper_format %}`: doses as people write them (10, 2.5, 0.125), never 1E+1 or 10.000; dates
always with the year (`|long_date` "Tue Jan 1, 2999", `|short_date` "Jan 1, 2999"; see taper.dates)."""

from django import template

from taper import dates
from taper.presentation import mg as format_mg

register = template.Library()


@register.filter
def mg(value) -> str:
    try:
        return format_mg(value)
    except (ArithmeticError, ValueError, TypeError):
        return "" if value is None else str(value)


@register.filter(expects_localtime=True)
def long_date(value) -> str:
    try:
        return dates.long_date(value)
    except (AttributeError, TypeError, ValueError):
        return ""


@register.filter(expects_localtime=True)
def short_date(value) -> str:
    try:
        return dates.short_date(value)
    except (AttributeError, TypeError, ValueError):
        return ""
