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
from api.idempotency import idempotency_begin, idempotency_finish
from api.parsers import MAX_BODY_BYTES, refuse_oversize_body
from clinic.accounts.middleware import mfa_requirement_unmet
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import tenant_context
from clinic.tenancy.middleware import ACTIVE_CLINIC_SESSION_KEY, membership_in
from clinic.tenancy.models import Clinic
from clinic.tenancy.roles import Perm

CLINIC_HEADER = "X-Stepdown-Clinic"
_SEALED = ("get_queryset", "get_object", "dispatch", "initial")


class ClinicViewSet(viewsets.GenericViewSet):
    model: ClassVar[type[Model]]
    # Every action must be listed; an unlisted action is denied (fail closed).
    action_perms: ClassVar[dict[str, Perm]] = {}
    # Bodies: DEFAULT_PARSER_CLASSES (api/parsers.py: JSON only, bounded); a view that takes more sets this.
    max_body_bytes: ClassVar[int] = MAX_BODY_BYTES

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
        refuse_oversize_body(request, self.max_body_bytes)  # 413 before anything reads the body
        if request.method in ("POST", "PUT", "PATCH"):
            # Parsed now, whether or not the action reads it: a malformed body is refused before any work
            # (and before an idempotency key is claimed), also by actions that take no fields.
            request.data  # noqa: B018
        self._idempotency = idempotency_begin(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        idempotency_finish(getattr(self, "_idempotency", None), response)
        return response

    def _resolve_clinic(self, request) -> tuple[Clinic, callable]:
        if isinstance(request.user, ApiPrincipal):
            return request.user.clinic, request.user.allows
        slug = request.headers.get(CLINIC_HEADER) or request.session.get(ACTIVE_CLINIC_SESSION_KEY)
        if not slug:
            raise exceptions.ValidationError({CLINIC_HEADER: "Name the clinic (its slug) in this header."})
        # From the Django request: the idle-timeout middleware may already have read the memberships.
        membership = membership_in(request._request, slug)
        if membership is None:
            raise Http404("No such clinic")
        if mfa_requirement_unmet(request.user, membership.clinic):
            # The same rule as the browser: a clinic that requires MFA is closed until the person enrols.
            raise exceptions.PermissionDenied(
                f"{membership.clinic.name} requires two-factor authentication; "
                "set up an authenticator app first."
            )
        return membership.clinic, membership.allows

    # --- data -------------------------------------------------------------------------------------------
    def refine_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            # drf-spectacular introspects the model outside any clinic: an empty queryset, no query.
            return self.model._base_manager.none()
        queryset = self.refine_queryset(self.model.objects.all())
        if self.action == "list":
            queryset = self.disclosure_filter(queryset)
        return queryset

    def get_object(self) -> Model:
        obj = super().get_object()
        if self.request.method in ("GET", "HEAD"):
            self.disclosure_guard(obj)
        if self.request.method == "GET":
            audit(
                actor=self.request.user, action=AuditEvent.Action.VIEW, obj=obj, patient=self.patient_of(obj)
            )
        return obj

    def get_serializer(self, *args, **kwargs):
        if kwargs.get("many") and args and self.request is not None and self.request.method == "GET":
            rows = list(args[0])
            # Every list read is audited here, as every single read is in get_object: no endpoint can forget.
            self.audit_list(len(rows))
            self.disclosure_record([self.patient_of(row) for row in rows])
            args = (rows, *args[1:])
        return super().get_serializer(*args, **kwargs)

    def patient_of(self, obj: Model):
        """The patient an object belongs to, for the audit trail."""
        return getattr(obj, "patient_id", None)

    # --- 42 CFR Part 2: patient-data reads by an outside system are disclosures ---------------------------
    # What a read of this endpoint discloses, as consent information categories. The default is the most
    # demanding (the whole record); an endpoint that shows less narrows it.
    disclosure_categories: ClassVar[tuple[str, ...]] = ("all_records",)

    def _outside_client(self):
        """The API client when it is an outside system (a disclosure recipient), else None (staff sessions
        and the program's own systems: internal communications, §2.12(c)(3))."""
        client = getattr(self.request.user, "client", None)
        return client if client is not None and client.is_outside_system else None

    # How rows of this endpoint name their patient, as a queryset lookup; "auto" finds it (the Patient itself,
    # a `patient` field, or one foreign key away, e.g. coverage__patient_id); None = not patient data.
    patient_lookup: ClassVar[str | None] = "auto"

    def _patient_lookup(self) -> str | None:
        from patients.models import Patient

        if self.patient_lookup != "auto":
            return self.patient_lookup
        if self.model is Patient:
            return "pk"
        fields = self.model._meta.concrete_fields
        if any(f.name == "patient" for f in fields):
            return "patient_id"
        for f in fields:
            related = f.related_model if f.is_relation and f.name != "clinic" else None
            if related is not None and any(g.name == "patient" for g in related._meta.concrete_fields):
                return f"{f.name}__patient_id"
        return None

    def _gate_inputs(self, client):
        from patients.consent.models import Recipient

        if client.recipient_id is None or not client.disclosure_purpose:
            return None
        return Recipient.objects.filter(pk=client.recipient_id).first(), client.disclosure_purpose

    def disclosure_filter(self, queryset: QuerySet) -> QuerySet:
        """List reads by an outside system show only patients whose consent allows it (set-based)."""
        client, lookup = self._outside_client(), self._patient_lookup()
        if client is None or lookup is None:
            return queryset
        from patients.consent.models import Consent
        from patients.consent.services import may_disclose_many

        inputs = self._gate_inputs(client)
        if inputs is None or inputs[0] is None:
            return queryset.none()
        recipient, purpose = inputs
        candidates = Consent.objects.filter(signed_on__isnull=False, revoked_on__isnull=True).values_list(
            "patient_id", flat=True
        )
        decisions = may_disclose_many(
            patient_ids=set(candidates),
            recipient=recipient,
            purpose=purpose,
            information=self.disclosure_categories,
        )
        allowed = [pid for pid, decision in decisions.items() if decision.allowed]
        return queryset.filter(**{f"{lookup}__in": allowed})

    def disclosure_guard(self, obj: Model) -> None:
        """A single read by an outside system: 403 with the gate's reasons unless consent allows it;
        when allowed (GET), the disclosure is recorded before the data is serialised."""
        client = self._outside_client()
        if client is None or self._patient_lookup() is None:
            return
        from patients.consent.services import may_disclose_many

        inputs = self._gate_inputs(client)
        if inputs is None or inputs[0] is None:
            raise exceptions.PermissionDenied(
                "Disclosure refused: this outside API client has no recipient and purpose set up."
            )
        recipient, purpose = inputs
        patient_id = self.patient_of(obj)
        decision = may_disclose_many(
            patient_ids=[patient_id],
            recipient=recipient,
            purpose=purpose,
            information=self.disclosure_categories,
        )[patient_id]
        if not decision.allowed:
            raise exceptions.PermissionDenied("Disclosure refused: " + "; ".join(decision.reasons))
        if self.request.method == "GET":
            self.disclosure_record([patient_id])

    def disclosure_record(self, patient_ids: list) -> None:
        """One accounting row per patient per request (channel api); the gate is asked again inside."""
        client = self._outside_client()
        patient_ids = [pid for pid in dict.fromkeys(patient_ids) if pid is not None]
        if client is None or not patient_ids or self._patient_lookup() is None:
            return
        from patients.consent.services import disclose_many

        recipient, purpose = self._gate_inputs(client)
        disclose_many(
            actor=self.request.user,
            patient_ids=patient_ids,
            recipient=recipient,
            purpose=purpose,
            information=self.disclosure_categories,
            channel="api",
            description=f"API {self.action} of {self.model._meta.verbose_name_plural} by {client.name}"[:500],
        )

    def audit_list(self, count: int) -> None:
        audit(
            actor=self.request.user,
            action=AuditEvent.Action.LIST,
            object_type=self.model._meta.label_lower,
            detail={"shown": count, "query": self.request.query_params.dict()},
        )
