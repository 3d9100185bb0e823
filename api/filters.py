"""Strict list filters: a filter the client names must be given a value that parses.

DRF's DEFAULT_FILTER_BACKENDS (clinic/settings.py), so every FilterSet under api/ gets it. django-filter
already answers an unparsable value with a 400, but an empty one (`updated_since=`) meant "no filter": a
sync that lost its timestamp silently read everything. An empty or blank value of a declared filter, a
value with a NUL, a value the filter reads as "nothing" (`is_active=maybe`) and a number past a bigint are
a 400 problem naming the parameter (never quoting the value). Dates and offsets are judged by the filter
form itself (clinic.form_dates: a `+16:00` offset was a DataError, year 0001 is out of range).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework.exceptions import ValidationError

EMPTY_VALUE = "Give a value, or leave the parameter out."
NOT_UNDERSTOOD = "Not a value this filter understands."
NUL_VALUE = "Null characters are not allowed."
NOT_BOOLEAN = "Give true or false."
# What a boolean parameter may say. Django's NullBooleanSelect also reads its legacy "2"/"3" as true/false
# and anything else as "no filter"; the schema says boolean, so only these spellings are accepted.
BOOLEAN_SPELLINGS = frozenset({"true", "false", "1", "0"})


def parameter_names(filterset) -> list[str]:
    """The query parameters a FilterSet reads (a range widget reads `<name>_<suffix>`)."""
    names = []
    for name, field in filterset.form.fields.items():
        suffixes = getattr(field.widget, "suffixes", None)
        names.extend([f"{name}_{s}" if s else name for s in suffixes] if suffixes else [name])
    return names


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        params = request.query_params
        given = [name for name in parameter_names(filterset) if name in params]
        refused = {name: [EMPTY_VALUE] for name in given if any(not v.strip() for v in params.getlist(name))}
        # A choice filter's message quotes the value it refuses: a NUL would be echoed back.
        refused |= {name: [NUL_VALUE] for name in given if any("\x00" in v for v in params.getlist(name))}
        refused |= {
            name: [NOT_BOOLEAN]
            for name in given
            if name in filterset.form.fields
            and isinstance(filterset.form.fields[name], forms.NullBooleanField)
            and any(v.strip().lower() not in BOOLEAN_SPELLINGS for v in params.getlist(name))
            and name not in refused
        }
        if refused:
            raise ValidationError(refused)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        errors = {}
        for name, value in filterset.form.cleaned_data.items():
            if name not in given:
                continue
            # A BooleanFilter reads `is_active=maybe` as "no filter"; ids are bigints, past them a DataError.
            if value is None or value == "" or (isinstance(value, Decimal) and abs(value) >= 2**63):
                errors[name] = [NOT_UNDERSTOOD]
        if errors:
            raise ValidationError(errors)
        return filterset.qs
