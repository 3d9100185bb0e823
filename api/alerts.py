"""Safety alerts over REST: list and read (filters for sync), and the lifecycle actions.

Alerts are raised only by the rules (safety.services.alerts_raise), never created over the API. Each action
URL answers GET with whether the action is possible now (and why not), and POST to do it:
`/alerts/{id}/acknowledge/`, `/alerts/{id}/resolve/` (note required), `/alerts/{id}/dismiss/` (reason
required). An action the alert's state does not allow (e.g. resolving a dismissed alert) is 409.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.base import ClinicViewSet
from clinic.tenancy.roles import Perm
from safety import services
from safety.models import Alert
from safety.services import MAX_NOTE


class AlertConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The alert's state does not allow this."
    default_code = "conflict"


class AlertSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    assigned_to = serializers.SerializerMethodField()
    acknowledged_by = serializers.SerializerMethodField()
    resolved_by = serializers.SerializerMethodField()
    dismissed_by = serializers.SerializerMethodField()
    what_to_do = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = (
            "id",
            "patient",
            "rule_id",
            "severity",
            "title",
            "status",
            "evidence",
            "source",
            "what_to_do",
            "dedup_key",
            "raised_at",
            "occurred_at",
            "assigned_to",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "resolution_note",
            "dismissed_by",
            "dismissed_at",
            "dismiss_reason",
            "escalated_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @staticmethod
    def _who(user) -> str | None:
        return user.email if user is not None else None

    def get_assigned_to(self, obj: Alert) -> str | None:
        return self._who(obj.assigned_to)

    def get_acknowledged_by(self, obj: Alert) -> str | None:
        return self._who(obj.acknowledged_by)

    def get_resolved_by(self, obj: Alert) -> str | None:
        return self._who(obj.resolved_by)

    def get_dismissed_by(self, obj: Alert) -> str | None:
        return self._who(obj.dismissed_by)

    def get_what_to_do(self, obj: Alert) -> str:
        rule = obj.rule
        return rule.what_to_do if rule is not None else ""


class AlertActionCheckSerializer(serializers.Serializer):
    action = serializers.CharField()
    allowed = serializers.BooleanField()
    problem = serializers.CharField(allow_blank=True, help_text="Why not, when not allowed.")
    requires = serializers.CharField(allow_blank=True, help_text="The body field this action needs, if any.")
    status = serializers.ChoiceField(choices=Alert.Status.choices)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=MAX_NOTE, help_text="What was done (required).")


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_NOTE, help_text="Why no action is needed (required).")


class AlertFilter(django_filters.FilterSet):
    # Declared explicitly: django-filter's automatic fields query the (scoped) manager at import time.
    status = django_filters.ChoiceFilter(choices=Alert.Status.choices)
    severity = django_filters.ChoiceFilter(choices=Alert.Severity.choices)
    rule_id = django_filters.CharFilter()
    patient = django_filters.UUIDFilter(field_name="patient_id")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Alert
        fields: tuple = ()


REQUIRES = {"acknowledge": "", "resolve": "note", "dismiss": "reason"}


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicViewSet):
    model = Alert
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    action_perms = {
        "list": Perm.ALERT_VIEW,
        "retrieve": Perm.ALERT_VIEW,
        "acknowledgement": Perm.ALERT_VIEW,
        "acknowledge": Perm.ALERT_ACT,
        "resolution": Perm.ALERT_VIEW,
        "resolve": Perm.ALERT_ACT,
        "dismissal": Perm.ALERT_VIEW,
        "dismiss": Perm.ALERT_ACT,
    }

    def refine_queryset(self, queryset):
        return queryset.select_related("assigned_to", "acknowledged_by", "resolved_by", "dismissed_by")

    # --- helpers ---------------------------------------------------------------------------------------
    def _transition(self, name: str) -> Response:
        alert = self.get_object()
        problem = services.alert_problem(alert, name) or ""
        body = {
            "action": name,
            "allowed": not problem,
            "problem": problem,
            "requires": REQUIRES[name],
            "status": alert.status,
        }
        return Response(AlertActionCheckSerializer(body).data)

    def _do(self, change) -> Response:
        alert = self.get_object()
        try:
            change(alert)
        except services.IllegalTransition as error:
            raise AlertConflict(error.plain) from error
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        alert = self.get_queryset().get(pk=alert.pk)
        return Response(AlertSerializer(alert, context=self.get_serializer_context()).data)

    # --- acknowledge -----------------------------------------------------------------------------------
    @extend_schema(responses=AlertActionCheckSerializer, summary="Whether the alert can be acknowledged now")
    @action(detail=True, methods=["get"], url_path="acknowledge")
    def acknowledgement(self, request, pk=None, **kwargs) -> Response:
        return self._transition("acknowledge")

    @extend_schema(request=None, responses={200: AlertSerializer}, summary="Acknowledge the alert")
    @acknowledgement.mapping.post
    def acknowledge(self, request, pk=None, **kwargs) -> Response:
        """Someone is handling it: it stops escalating. 409 unless the alert is open."""
        return self._do(lambda alert: services.alert_acknowledge(actor=request.user, alert=alert))

    # --- resolve ---------------------------------------------------------------------------------------
    @extend_schema(responses=AlertActionCheckSerializer, summary="Whether the alert can be resolved now")
    @action(detail=True, methods=["get"], url_path="resolve")
    def resolution(self, request, pk=None, **kwargs) -> Response:
        return self._transition("resolve")

    @extend_schema(request=ResolveSerializer, responses={200: AlertSerializer}, summary="Resolve the alert")
    @resolution.mapping.post
    def resolve(self, request, pk=None, **kwargs) -> Response:
        """Close the alert with what was done. 409 when it is already resolved or dismissed."""
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = body.validated_data["note"]
        return self._do(lambda alert: services.alert_resolve(actor=request.user, alert=alert, note=note))

    # --- dismiss ---------------------------------------------------------------------------------------
    @extend_schema(responses=AlertActionCheckSerializer, summary="Whether the alert can be dismissed now")
    @action(detail=True, methods=["get"], url_path="dismiss")
    def dismissal(self, request, pk=None, **kwargs) -> Response:
        return self._transition("dismiss")

    @extend_schema(request=DismissSerializer, responses={200: AlertSerializer}, summary="Dismiss the alert")
    @dismissal.mapping.post
    def dismiss(self, request, pk=None, **kwargs) -> Response:
        """Close the alert as needing no action, with the reason. 409 when it is already closed."""
        body = DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"]
        return self._do(lambda alert: services.alert_dismiss(actor=request.user, alert=alert, reason=reason))
