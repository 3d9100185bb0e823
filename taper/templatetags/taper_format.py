"""`{% load taper_format %}`: doses as people write them (10, 2.5, 0.125), never 1E+1 or 10.000."""

from django import template

from taper.presentation import mg as format_mg

register = template.Library()


@register.filter
def mg(value) -> str:
    try:
        return format_mg(value)
    except (ArithmeticError, ValueError, TypeError):
        return "" if value is None else str(value)
