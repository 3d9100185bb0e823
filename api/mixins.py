"""Small pieces shared by viewsets and serializers that change records."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response


class ParentIsFixed:
    """The parent (patient or coverage) is chosen at creation and cannot be moved afterwards."""

    parent_field = ""

    def _drop_parent(self, instance, validated_data: dict) -> dict:
        key = f"{self.parent_field}_id"
        if key in validated_data and validated_data.pop(key) != getattr(instance, key):
            raise serializers.ValidationError({self.parent_field: "Cannot be changed after creation."})
        return validated_data


class PartialUpdateOnly:
    """PATCH only: records are corrected field by field; there is no whole-record PUT."""

    def partial_update(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)
