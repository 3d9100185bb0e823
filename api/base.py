"""API base classes: the clinic comes from the credential, the permission from the role table.

Subclasses cannot override `get_queryset` or `get_object` (the class refuses at import): the only
queryset they see is the model's scoped manager inside `tenant_context`, narrowed by `refine_queryset`.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import ClassVar

from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework import exceptions, viewsets

from api.authentication import ApiPrincipal
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import tenant_context
from clinic.tenancy.middleware import ACTIVE_CLINIC_SESSION_KEY
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Perm

CLINIC_HEADER = "X-Stepdown-Clinic"
_SEALED = ("get_queryset", "get_object", "dispatch", "initial")


class ClinicViewSet(viewsets.GenericViewSet):
    model: ClassVar[type[Model]]
    # Every action must be listed; an unlisted action is denied (fail closed).
    action_perms: ClassVar[dict[str, Perm]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name in _SEALED:
            if getattr(cls, name) is not ClinicViewSet.__dict__[name]:
                raise TypeError(f"{cls.__name__} may not override {name}; use refine_queryset instead")

    # --- clinic and permission ------------------------------------------------------------------------
    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as stack:
            self._tenant_stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication, IsAuthenticated, throttling
        if self.action is None:
            # A method this route does not offer: 405, not the 403 of an unlisted action.
            raise exceptions.MethodNotAllowed(request.method)
        clinic, allows = self._resolve_clinic(request)
        perm = self.action_perms.get(self.action or "")
        if perm is None or not allows(perm):
            raise exceptions.PermissionDenied("Your role does not allow this.")
        self.clinic = clinic
        self._tenant_stack.enter_context(tenant_context(clinic))

    def _resolve_clinic(self, request) -> tuple[Clinic, callable]:
        if isinstance(request.user, ApiPrincipal):
            return request.user.clinic, request.user.allows
        slug = request.headers.get(CLINIC_HEADER) or request.session.get(ACTIVE_CLINIC_SESSION_KEY)
        if not slug:
            raise exceptions.ValidationError({CLINIC_HEADER: "Name the clinic (its slug) in this header."})
        membership = (
            Membership.objects.active().select_related("clinic").filter(user=request.user, clinic__slug=slug).first()
        )
        if membership is None:
            raise Http404("No such clinic")
        return membership.clinic, membership.allows

    # --- data -------------------------------------------------------------------------------------------
    def refine_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            # drf-spectacular introspects the model outside any clinic: an empty queryset, no query.
            return self.model._base_manager.none()
        return self.refine_queryset(self.model.objects.all())

    def get_object(self) -> Model:
        obj = super().get_object()
        if self.request.method == "GET":
            audit(actor=self.request.user, action=AuditEvent.Action.VIEW, obj=obj, patient=self.patient_of(obj))
        return obj

    def patient_of(self, obj: Model):
        """The patient an object belongs to, for the audit trail."""
        return getattr(obj, "patient_id", None)

    def audit_list(self, count: int) -> None:
        audit(
            actor=self.request.user,
            action=AuditEvent.Action.LIST,
            object_type=self.model._meta.label_lower,
            detail={"shown": count, "query": self.request.query_params.dict()},
        )
