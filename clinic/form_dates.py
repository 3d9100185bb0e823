"""Browser forms (and django-filter's filter forms) hold every date to `clinic.date_bounds`.

Installed once from `clinic.tenancy`'s AppConfig.ready(), on Django's BaseForm, so no form can forget it:
after the fields are cleaned, each date or date-time a person entered (or changed) outside its range becomes
an error on that field. A value left as it was (an old record's date shown again) is not re-judged.
"""

from __future__ import annotations

import datetime as dt

from django.forms import BaseForm
from django.utils import timezone

from clinic import date_bounds

_INSTALLED = "_stepdown_date_bounds"


def check_form_dates(form: BaseForm) -> None:
    today = timezone.localdate()
    for name, value in list(form.cleaned_data.items()):
        field = form.fields.get(name)
        if field is None or field.disabled or not isinstance(value, dt.date):
            continue
        message = date_bounds.refusal(name, value, today)
        if message is not None and name in form.changed_data:
            form.add_error(name, message)


def install_form_date_bounds() -> None:
    if getattr(BaseForm, _INSTALLED, False):
        return
    clean_fields = BaseForm._clean_fields

    def _clean_fields(self: BaseForm) -> None:
        clean_fields(self)
        check_form_dates(self)

    BaseForm._clean_fields = _clean_fields
    setattr(BaseForm, _INSTALLED, True)
