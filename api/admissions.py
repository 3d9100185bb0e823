"""Inquiries over REST: list (with stage and sync filters), read, create, change, and move through the
pipeline. Writes go through the admissions services, so the API refuses exactly what the pages refuse.
Deletion is not offered: a closed inquiry is kept with its reason."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.base import ClinicViewSet
from clinic.tenancy.roles import Perm
from patients.admissions import stages
from patients.admissions.models import NOTE_MAX_LENGTH, Inquiry, InquiryStageChange, ReportedBenzodiazepine
from patients.admissions.selectors import assignable_staff
from patients.admissions.services import (
    EDITABLE_FIELDS,
    MAX_BENZODIAZEPINES,
    inquiry_advance,
    inquiry_create,
    inquiry_update,
)
from patients.admissions.substances import BENZODIAZEPINES, OTHER_SUBSTANCES
from patients.levels_of_care import CHOICES as LEVEL_CHOICES


class BenzodiazepineSerializer(serializers.ModelSerializer):
    drug = serializers.ChoiceField(choices=BENZODIAZEPINES)
    daily_dose_mg = serializers.DecimalField(max_digits=7, decimal_places=2)

    class Meta:
        model = ReportedBenzodiazepine
        fields = ("drug", "daily_dose_mg")


class StageChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = InquiryStageChange
        fields = ("from_stage", "to_stage", "changed_by", "changed_at", "note")


class AssigneeField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        # Resolved per request, inside the clinic: only this clinic's pipeline staff can be assigned.
        return assignable_staff()


class InquirySerializer(serializers.ModelSerializer):
    benzodiazepines = BenzodiazepineSerializer(
        many=True, required=False, max_length=MAX_BENZODIAZEPINES, help_text="Replaces the reported list."
    )
    other_substances = serializers.ListField(
        child=serializers.ChoiceField(choices=OTHER_SUBSTANCES),
        required=False,
        max_length=len(OTHER_SUBSTANCES),
    )
    assigned_to = AssigneeField(required=False, allow_null=True)
    stage_changes = StageChangeSerializer(many=True, read_only=True)

    class Meta:
        model = Inquiry
        fields = (
            "id",
            *EDITABLE_FIELDS,
            "benzodiazepines",
            "stage",
            "stage_entered_at",
            "closed_reason",
            "closed_note",
            "admitted_on",
            "patient",
            "stage_changes",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "stage",
            "stage_entered_at",
            "closed_reason",
            "closed_note",
            "admitted_on",
            "patient",
            "created_at",
            "updated_at",
        )

    def create(self, validated_data):
        benzodiazepines = validated_data.pop("benzodiazepines", ())
        return inquiry_create(
            actor=self.context["request"].user, fields=validated_data, benzodiazepines=benzodiazepines
        )

    def update(self, instance, validated_data):
        benzodiazepines = validated_data.pop("benzodiazepines", None)
        return inquiry_update(
            actor=self.context["request"].user,
            inquiry=instance,
            fields=validated_data,
            benzodiazepines=benzodiazepines,
        )


class AdvanceSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(choices=stages.CHOICES)
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")
    intake_at = serializers.DateTimeField(required=False, help_text="Required to schedule the intake.")
    level_of_care = serializers.ChoiceField(
        choices=LEVEL_CHOICES, required=False, help_text="Required when assessed (recommended) and admitted."
    )
    admitted_on = serializers.DateField(required=False, help_text="Required to admit.")
    closed_reason = serializers.ChoiceField(
        choices=Inquiry.ClosedReason.choices, required=False, help_text="Required to refer out or decline."
    )
    closed_note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True)


class TransitionSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(choices=stages.CHOICES)
    requires = serializers.ListField(child=serializers.CharField())


class TransitionsSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=stages.CHOICES)
    allowed = TransitionSerializer(many=True)


class InquiryFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    stage = django_filters.ChoiceFilter(choices=stages.CHOICES)
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Inquiry
        fields: tuple = ()


class InquiryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    ClinicViewSet,
):
    model = Inquiry
    serializer_class = InquirySerializer
    filterset_class = InquiryFilter
    action_perms = {
        "list": Perm.INQUIRY_VIEW,
        "retrieve": Perm.INQUIRY_VIEW,
        "create": Perm.INQUIRY_MANAGE,
        "partial_update": Perm.INQUIRY_MANAGE,
        "transitions": Perm.INQUIRY_MANAGE,
        "advance": Perm.INQUIRY_MANAGE,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("assigned_to").prefetch_related(
            "benzodiazepines", "stage_changes__changed_by"
        )

    def partial_update(self, request, *args, **kwargs) -> Response:
        inquiry = self.get_object()
        serializer = self.get_serializer(inquiry, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(self.get_serializer(self._fresh(inquiry)).data)

    @extend_schema(
        responses=TransitionsSerializer, summary="Stages this inquiry may move to, and what each needs"
    )
    @action(detail=True, methods=["get"], url_path="advance")
    def transitions(self, request, pk=None, **kwargs) -> Response:
        inquiry = self.get_object()
        allowed = [
            {"to_stage": stage.value, "requires": [req.name for req in stages.requirements(stage)]}
            for stage in stages.next_stages(inquiry.stage)
        ]
        return Response({"stage": inquiry.stage, "allowed": allowed})

    @extend_schema(request=AdvanceSerializer, responses=InquirySerializer, summary="Move the inquiry on")
    @transitions.mapping.post
    def advance(self, request, pk=None, **kwargs) -> Response:
        inquiry = self.get_object()  # 404 for another clinic's inquiry before the body is even read
        body = AdvanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        to_stage, note = values.pop("to_stage"), values.pop("note", "")
        # A refused move raises Django's ValidationError; api/errors.py answers it as a 400 problem.
        inquiry = inquiry_advance(actor=request.user, inquiry=inquiry, to_stage=to_stage, note=note, **values)
        return Response(self.get_serializer(self._fresh(inquiry)).data)

    def _fresh(self, inquiry: Inquiry) -> Inquiry:
        return self.refine_queryset(Inquiry.objects.all()).get(pk=inquiry.pk)
