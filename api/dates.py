"""API dates held to `clinic.date_bounds`, for every serializer at once.

Installed from ApiConfig.ready() on DRF's DateField and DateTimeField, so no serializer (model or plain,
written before or after this) can forget: a value outside its range is a 400 naming the field. A date-time's
own UTC offset is judged before DRF converts it to the clinic's zone (an offset of +16:00 is refused the same
way in a body as in a filter). Output is untouched: `to_representation` is not wrapped.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from clinic import date_bounds

_INSTALLED = "_stepdown_date_bounds"


def _judge(field: serializers.Field, value: dt.date) -> None:
    message = date_bounds.refusal(field.field_name or "", value, timezone.localdate())
    if message is not None:
        raise serializers.ValidationError(message, code="date_range")


def _offset_of(data) -> dt.timedelta | None:
    if not isinstance(data, str):
        return None
    try:
        parsed = parse_datetime(data.strip())
    except ValueError:
        return None
    return parsed.utcoffset() if parsed is not None else None


def install_api_date_bounds() -> None:
    for cls in (serializers.DateField, serializers.DateTimeField):
        if cls.__dict__.get(_INSTALLED):
            continue
        original = cls.to_internal_value

        def to_internal_value(self, data, _original=original):
            offset = _offset_of(data) if isinstance(self, serializers.DateTimeField) else None
            if offset is not None and abs(offset) > date_bounds.MAX_OFFSET:
                raise serializers.ValidationError(
                    "The UTC offset must be between -15:59 and +15:59.", code="date_range"
                )
            value = _original(self, data)
            _judge(self, value)
            return value

        cls.to_internal_value = to_internal_value
        setattr(cls, _INSTALLED, True)
