"""The plausible date ranges (clinic.date_bounds, pure) and every form using them (clinic.form_dates)."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms

from clinic import date_bounds
from clinic.date_bounds import BIRTH, CLINICAL, HISTORY, range_for

TODAY = dt.date(2026, 12, 4)


def test_each_name_gets_its_range():
    assert range_for("date_of_birth") is BIRTH and range_for("subscriber_date_of_birth") is BIRTH
    assert range_for("onset_on") is HISTORY and range_for("updated_since") is HISTORY
    assert range_for("since") is HISTORY
    assert (
        range_for("taken_at") is CLINICAL
        and range_for("start_date") is CLINICAL
        and range_for("") is CLINICAL
    )


@pytest.mark.parametrize(
    ("name", "value", "refused"),
    [
        ("start_date", dt.date(1, 1, 1), True),
        ("start_date", dt.date(9999, 12, 31), True),
        ("start_date", dt.date(1999, 12, 31), True),
        ("start_date", dt.date(2000, 1, 1), False),
        ("start_date", dt.date(2031, 12, 4), False),
        ("start_date", dt.date(2031, 12, 5), True),
        ("date_of_birth", dt.date(1900, 1, 1), False),
        ("date_of_birth", dt.date(1899, 12, 31), True),
        ("date_of_birth", dt.date(2026, 12, 5), True),
        ("started_on", dt.date(1985, 6, 1), False),
        ("updated_since", dt.datetime(1970, 1, 1, tzinfo=dt.UTC), False),
    ],
)
def test_the_ranges(name, value, refused):
    assert (date_bounds.refusal(name, value, TODAY) is not None) is refused


def test_an_offset_past_15_59_is_refused_and_the_message_never_quotes_the_value():
    east = dt.timezone(dt.timedelta(hours=16))
    message = date_bounds.refusal("taken_at", dt.datetime(2026, 1, 5, 10, tzinfo=east), TODAY)
    assert message and "offset" in message
    assert (
        date_bounds.refusal(
            "taken_at", dt.datetime(2026, 1, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=14))), TODAY
        )
        is None
    )
    message = date_bounds.refusal("taken_at", dt.date(1, 1, 1), TODAY)
    assert message and "0001-01-01" not in message


def test_29_february_plus_five_years():
    assert CLINICAL.latest(dt.date(2028, 2, 29)) == dt.date(2033, 2, 28)


class _Visit(forms.Form):
    seen_on = forms.DateField()
    at = forms.DateTimeField(required=False)
    date_of_birth = forms.DateField(required=False)
    locked_on = forms.DateField(required=False, disabled=True)


def test_every_form_refuses_a_date_out_of_range_as_a_field_error():
    form = _Visit(data={"seen_on": "0001-01-01", "at": "9999-12-31T10:00", "date_of_birth": "1850-01-01"})
    assert not form.is_valid()
    assert set(form.errors) == {"seen_on", "at", "date_of_birth"}
    assert "2000-01-01" in form.errors["seen_on"][0]
    ok = _Visit(data={"seen_on": "2026-01-05", "date_of_birth": "1950-03-01"})
    assert ok.is_valid(), ok.errors


def test_a_value_shown_again_unchanged_is_not_judged():
    """An old record edited in a form keeps its (pre-range) date if nobody touches it."""
    form = _Visit(data={"seen_on": "1990-01-01"}, initial={"seen_on": dt.date(1990, 1, 1)})
    assert form.is_valid(), form.errors
    disabled = _Visit(data={"seen_on": "2026-01-05"}, initial={"locked_on": dt.date(1, 1, 1)})
    assert disabled.is_valid(), disabled.errors


def test_a_nul_in_a_browser_form_field_is_a_form_error():
    class _Named(forms.Form):
        name = forms.CharField()
        kind = forms.ChoiceField(choices=[("a", "A")])

    form = _Named(data={"name": "a\x00b", "kind": "a\x00"})
    assert not form.is_valid() and set(form.errors) == {"name", "kind"}
