"""Staff administration: invitations, roles, deactivation, clinic settings.

Every write is atomic and audited in the clinic's chain (action ADMIN) in the same transaction.
Callers inside a clinic request already run in `tenant_context`; `invitation_accept` enters the
invitation's clinic itself, because the invitee is not a member yet.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.accounts.models import Invitation, User
from clinic.audit.models import AuditEvent
from clinic.audit.services import audit
from clinic.tenancy.context import current_clinic, require_clinic, tenant_context
from clinic.tenancy.models import Clinic, Membership
from clinic.tenancy.roles import Role

INVITATION_SALT = "stepdown.accounts.invitation"
ADMIN = AuditEvent.Action.ADMIN


class InvitationInvalid(Exception):
    """The link cannot be used. `reason` is shown to the person holding it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- helpers -------------------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_roles(roles: Iterable[str]) -> list[str]:
    chosen = sorted(set(roles))
    if not chosen or set(chosen) - set(Role):
        raise ValidationError({"roles": "Choose at least one role."})
    return chosen


def _require_own(obj: Invitation | Membership) -> Clinic:
    clinic = require_clinic()
    if obj.clinic_id != clinic.pk:
        raise PermissionError("Not this clinic's record")
    return clinic


def sign_invitation_link(invitation: Invitation, token: str) -> str:
    """The URL-safe value in the emailed link: the row id and the secret, signed with SECRET_KEY."""
    return signing.dumps({"i": invitation.pk, "t": token}, salt=INVITATION_SALT, compress=True)


def _lock_admins(clinic: Clinic) -> list[Membership]:
    """Lock every active admin row of the clinic so two concurrent demotions cannot both pass the guard."""
    return list(
        Membership.objects.select_for_update()
        .filter(clinic=clinic, is_active=True, roles__contains=[Role.CLINIC_ADMIN.value])
        .order_by("pk")
    )


def _guard_last_admin(*, clinic: Clinic, membership: Membership, keeps_admin: bool) -> None:
    admins = _lock_admins(clinic)
    if keeps_admin or all(admin.pk != membership.pk for admin in admins):
        return
    if len(admins) <= 1:
        raise ValidationError(
            {"roles": "This is the clinic's last admin. Make someone else a clinic admin first."}
        )


# --- invitations ----------------------------------------------------------------------------------------


@transaction.atomic
def invitation_create(*, actor: User, email: str, roles: Sequence[str], site_url: str) -> Invitation:
    """Invite `email` to the current clinic and email them a signed link (sent after commit).

    An open invitation to the same address is replaced, so "invite again" is also "resend".
    """
    clinic = require_clinic()
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": "Enter a valid email address."}) from error
    roles = _clean_roles(roles)
    if Membership.objects.filter(clinic=clinic, user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": f"{email} is already a member of {clinic.name}."})
    open_invitations = Invitation.objects.select_for_update().filter(
        clinic=clinic, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    for previous in open_invitations:
        invitation_revoke(actor=actor, invitation=previous)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        clinic=clinic, email=email, roles=roles, token_hash=_hash(token), invited_by=actor
    )
    audit(
        actor=actor,
        action=ADMIN,
        obj=invitation,
        detail={"event": "invitation_created", "email": email, "roles": roles},
    )
    link = site_url.rstrip("/") + reverse(
        "invite:accept", kwargs={"token": sign_invitation_link(invitation, token)}
    )
    context = {"invitation": invitation, "clinic": clinic, "link": link, "inviter": actor}
    subject = render_to_string("staff/email/invitation_subject.txt", context).strip()
    body = render_to_string("staff/email/invitation_message.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    _require_own(invitation)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit(
            actor=actor,
            action=ADMIN,
            obj=invitation,
            detail={"event": "invitation_revoked", "email": invitation.email},
        )
    return invitation


def invitation_from_link(*, signed: str, lock: bool = False) -> Invitation:
    """The invitation behind an emailed link, or InvitationInvalid saying why it cannot be used."""
    try:
        payload = signing.loads(signed, salt=INVITATION_SALT)
        invitation_id, token = int(payload["i"]), str(payload["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise InvitationInvalid(
            "This invitation link is not valid. Check that you copied the whole link from the email."
        ) from error
    queryset = Invitation.objects.select_related("clinic")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    invitation = queryset.filter(pk=invitation_id).first()
    if invitation is None or not secrets.compare_digest(invitation.token_hash, _hash(token)):
        raise InvitationInvalid("This invitation link is not valid. Ask the clinic to send a new invitation.")
    if invitation.accepted_at is not None:
        raise InvitationInvalid("This invitation has already been used. Sign in with the account it created.")
    if invitation.revoked_at is not None or not invitation.clinic.is_active:
        raise InvitationInvalid(
            "This invitation was withdrawn. Ask the clinic for a new one if you need access."
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid("This invitation has expired. Ask the clinic to send a new one.")
    return invitation


def validate_new_password(*, email: str, full_name: str, password: str) -> None:
    """Django's password validators, judged against the person the account will be for."""
    try:
        validate_password(password, user=User(email=email, full_name=full_name))
    except ValidationError as error:
        raise ValidationError({"password1": error.messages}) from error


@transaction.atomic
def invitation_accept(
    *,
    signed: str,
    user: User | None = None,
    full_name: str = "",
    password: str = "",
) -> Membership:
    """Accept the invitation in `signed`.

    `user` given: that signed-in person (who must own the invited address) gains the membership.
    Otherwise a new account is created with `full_name` and `password`. Either way all or nothing.
    """
    outer = current_clinic()
    invitation = invitation_from_link(signed=signed, lock=True)
    if outer is not None and outer.pk != invitation.clinic_id:
        raise PermissionError("An invitation is accepted outside any other clinic's scope")
    existing = User.objects.filter(email__iexact=invitation.email).first()
    if user is not None:
        if user.email.lower() != invitation.email:
            raise InvitationInvalid(
                f"This invitation is for {invitation.email}, but you are signed in as {user.email}."
            )
    elif existing is not None:
        raise InvitationInvalid(f"An account for {invitation.email} already exists: sign in to accept.")
    else:
        full_name = full_name.strip()
        if not full_name:
            raise ValidationError({"full_name": "Enter your name as colleagues should see it."})
        validate_new_password(email=invitation.email, full_name=full_name, password=password)
        user = User.objects.create_user(email=invitation.email, password=password, full_name=full_name[:200])
        # The link reached this mailbox, which proves the address.
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)

    membership, created = Membership.objects.select_for_update().get_or_create(
        clinic=invitation.clinic, user=user, defaults={"roles": invitation.roles}
    )
    if not created:
        membership.roles = sorted(
            set(invitation.roles) | (set(membership.roles) if membership.is_active else set())
        )
        membership.is_active = True
        membership.save(update_fields=["roles", "is_active"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    with tenant_context(invitation.clinic):
        audit(
            actor=user,
            action=ADMIN,
            obj=membership,
            detail={"event": "invitation_accepted", "invitation": invitation.pk, "roles": membership.roles},
        )
    return membership


# --- memberships -----------------------------------------------------------------------------------------


@transaction.atomic
def membership_update_roles(*, actor: User, membership: Membership, roles: Sequence[str]) -> Membership:
    clinic = _require_own(membership)
    roles = _clean_roles(roles)
    _guard_last_admin(clinic=clinic, membership=membership, keeps_admin=Role.CLINIC_ADMIN.value in roles)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    before = list(membership.roles)
    if before != roles:
        membership.roles = roles
        membership.save(update_fields=["roles"])
        audit(
            actor=actor,
            action=ADMIN,
            obj=membership,
            detail={
                "event": "roles_changed",
                "user": membership.user.email,
                "before": before,
                "after": roles,
            },
        )
    return membership


@transaction.atomic
def membership_deactivate(*, actor: User, membership: Membership) -> Membership:
    clinic = _require_own(membership)
    _guard_last_admin(clinic=clinic, membership=membership, keeps_admin=False)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.is_active:
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        audit(
            actor=actor,
            action=ADMIN,
            obj=membership,
            detail={"event": "membership_deactivated", "user": membership.user.email},
        )
    return membership


# --- clinic settings -------------------------------------------------------------------------------------

CLINIC_SETTINGS_FIELDS = ("name", "timezone", "require_mfa", "idle_timeout_minutes")


@transaction.atomic
def clinic_update_settings(*, actor: User, fields: dict[str, Any]) -> Clinic:
    """Change the current clinic's settings after full model validation; nothing is saved if any is bad."""
    clinic = Clinic.objects.select_for_update().get(pk=require_clinic().pk)
    unknown = set(fields) - set(CLINIC_SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Not a clinic setting: {', '.join(sorted(unknown))}")
    changes = {
        name: [getattr(clinic, name), value]
        for name, value in fields.items()
        if getattr(clinic, name) != value
    }
    for name, value in fields.items():
        setattr(clinic, name, value)
    clinic.full_clean()
    if changes:
        clinic.save(update_fields=list(changes))
        audit(actor=actor, action=ADMIN, obj=clinic, detail={"event": "settings_changed", "changes": changes})
    return clinic
