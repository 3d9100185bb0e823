"""API text fields take text: a JSON number or boolean sent for a string is a 400, for every serializer.

DRF's CharField turns `0` into `"0"`, so a client that sent a language code or a name as a number (a bug in
its mapping) had it stored as if it meant it. Installed from ApiConfig.ready() on CharField (and so on its
subclasses: email, URL, slug, regex); choice fields are untouched.
"""

from __future__ import annotations

from rest_framework import serializers

_INSTALLED = "_stepdown_strict_strings"
NOT_TEXT = "Give text (a JSON string), not a number or true/false."


def install_strict_strings() -> None:
    cls = serializers.CharField
    if cls.__dict__.get(_INSTALLED):
        return
    original = cls.to_internal_value

    def to_internal_value(self, data, _original=original):
        if isinstance(data, bool | int | float):
            raise serializers.ValidationError(NOT_TEXT, code="invalid")
        return _original(self, data)

    cls.to_internal_value = to_internal_value
    setattr(cls, _INSTALLED, True)
