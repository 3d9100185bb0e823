"""Clinic administration pages (staff, settings; API clients live in `api.views`). Thin: services decide."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic.accounts.forms import COMMON_TIMEZONES, ClinicSettingsForm, InviteForm, RolesForm
from clinic.accounts.models import Invitation
from clinic.accounts.services import (
    clinic_update_settings,
    invitation_create,
    invitation_revoke,
    membership_deactivate,
    membership_update_roles,
)
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm, role_labels
from clinic.tenancy.urls_helpers import clinic_reverse

# --- staff -----------------------------------------------------------------------------------------------


def _members(request: HttpRequest):
    active_first = Case(When(is_active=True, then=0), default=1, output_field=IntegerField())
    return (
        Membership.objects.filter(clinic=request.clinic)
        .select_related("user")
        .order_by(active_first, "user__email")
    )


def _member(request: HttpRequest, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, clinic=request.clinic
    )


def _staff_page(
    request: HttpRequest, invite_form: InviteForm | None = None, status: int = 200
) -> HttpResponse:
    members = list(_members(request))
    for member in members:
        member.role_labels = role_labels(member.roles)
    invitations = list(
        Invitation.objects.filter(clinic=request.clinic, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .order_by("email")
    )
    for invitation in invitations:
        invitation.role_labels = role_labels(invitation.roles)
    context = {
        "members": members,
        "invitations": invitations,
        "invite_form": invite_form or InviteForm(),
        "now": timezone.now(),
    }
    return render(request, "staff/staff_list.html", context, status=status)


@require_perm(Perm.STAFF_MANAGE)
@require_http_methods(["GET"])
def staff_list_view(request: HttpRequest) -> HttpResponse:
    return _staff_page(request)


@require_perm(Perm.STAFF_MANAGE)
@require_POST
def staff_invite_view(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = invitation_create(
                actor=request.user,
                email=form.cleaned_data["email"],
                roles=form.cleaned_data["roles"],
                site_url=request.build_absolute_uri("/"),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}. The link works for 7 days.")
            return redirect(clinic_reverse("staff:staff"))
    return _staff_page(request, invite_form=form)


def _member_row(request: HttpRequest, member: Membership, form: RolesForm | None = None) -> HttpResponse:
    member.role_labels = role_labels(member.roles)
    return render(request, "staff/_member_row.html", {"member": member, "form": form})


@require_perm(Perm.STAFF_MANAGE)
@require_http_methods(["GET", "POST"])
def member_roles_view(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = _member(request, membership_id)
    if request.method == "POST":
        form = RolesForm(request.POST)
        if form.is_valid():
            try:
                member = membership_update_roles(
                    actor=request.user, membership=member, roles=form.cleaned_data["roles"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                if request.htmx:
                    return _member_row(request, member)
                messages.success(request, f"Roles of {member.user} were updated.")
                return redirect(clinic_reverse("staff:staff"))
    else:
        # htmx "Cancel" asks for the plain row back.
        if request.htmx and request.GET.get("view") == "row":
            return _member_row(request, member)
        form = RolesForm(initial={"roles": member.roles})
    if request.htmx:
        return _member_row(request, member, form)
    return render(request, "staff/member_roles.html", {"member": member, "form": form})


@require_perm(Perm.STAFF_MANAGE)
@require_http_methods(["GET", "POST"])
def member_deactivate_view(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = _member(request, membership_id)
    error = ""
    if request.method == "POST":
        try:
            membership_deactivate(actor=request.user, membership=member)
        except ValidationError as problem:
            error = " ".join(problem.messages)
        else:
            messages.success(request, f"{member.user} can no longer open {request.clinic.name}.")
            return redirect(clinic_reverse("staff:staff"))
    return render(
        request,
        "staff/member_deactivate.html",
        {"member": member, "error": error},
        status=400 if error else 200,
    )


@require_perm(Perm.STAFF_MANAGE)
@require_POST
def invitation_revoke_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, clinic=request.clinic)
    invitation_revoke(actor=request.user, invitation=invitation)
    messages.success(
        request, f"The invitation to {invitation.email} was withdrawn; its link no longer works."
    )
    return redirect(clinic_reverse("staff:staff"))


# --- clinic settings -------------------------------------------------------------------------------------


@require_perm(Perm.CLINIC_SETTINGS)
@require_http_methods(["GET", "POST"])
def clinic_settings_view(request: HttpRequest) -> HttpResponse:
    # The form edits a copy, so a rejected value never leaks into request.clinic (used by the layout).
    form = ClinicSettingsForm(request.POST or None, instance=copy.copy(request.clinic))
    if request.method == "POST" and form.is_valid():
        try:
            clinic_update_settings(
                actor=request.user, fields={name: form.cleaned_data[name] for name in form.Meta.fields}
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Clinic settings saved.")
            return redirect(clinic_reverse("staff:settings"))
    return render(request, "staff/settings.html", {"form": form, "timezones": COMMON_TIMEZONES})
