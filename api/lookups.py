"""Ids that arrive in a request body, looked up in the clinic of the request only."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model
from rest_framework import serializers

M = TypeVar("M", bound=Model)


def resolve_in_clinic(model: type[M], pk: Any, field: str) -> M:
    """The record with this id in the current clinic, else a 400 on `field`.

    The scoped manager (and row-level security) see only this clinic, so another clinic's id is simply
    unknown: the message is the same as for an id that never existed, and leaks nothing.
    """
    try:
        found = model.objects.filter(pk=pk).first()
    except (ValueError, TypeError):  # a malformed id for the key type: as unknown as a missing one
        found = None
    if found is None:
        # A list, like every other field error in a problem's `errors`.
        raise serializers.ValidationError(
            {field: [f"No {model._meta.verbose_name} with id {pk} in this clinic."]}
        )
    return found
