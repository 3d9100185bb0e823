"""Clinics (the tenants), staff memberships, and the base class of every tenant-owned table."""

from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django_scopes import ScopedManager

from clinic.tenancy.roles import ROLE_CHOICES, Perm, role_allows

slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", "Use 3–50 lowercase letters, digits or dashes."
)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example America/Chicago).")


class Clinic(models.Model):
    """A tenant. Not itself tenant-owned: it is the root every tenant row points at."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="America/New_York", validators=[validate_timezone])
    require_mfa = models.BooleanField(
        default=False, help_text="Staff must enrol an authenticator app before they can open this clinic."
    )
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Sign staff out after this many minutes without activity.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        return self.filter(is_active=True, clinic__is_active=True)

    def of(self, user) -> MembershipQuerySet:
        """The person's active memberships, with their clinics (switcher, home page)."""
        return self.active().filter(user=user).select_related("clinic")

    def in_clinic(self, user, clinic_slug: str) -> Membership | None:
        """The person's membership of the clinic named in a URL or header; None for non-members."""
        return self.of(user).filter(clinic__slug=clinic_slug).first()


class Membership(models.Model):
    """A person's roles in one clinic.

    A platform table rather than a tenant table: the clinic switcher must list every clinic of the signed-in
    person. It is only read filtered by user (switcher, middleware) or by the current clinic (staff page).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    roles = ArrayField(models.CharField(max_length=32, choices=ROLE_CHOICES), default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "user"], name="membership_one_per_clinic")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.clinic}"

    def allows(self, perm: Perm) -> bool:
        return self.is_active and role_allows(self.roles, perm)

    def clean(self) -> None:
        if not self.roles:
            raise ValidationError({"roles": "Choose at least one role."})


class TenantModel(models.Model):
    """Base of every tenant-owned table.

    The default manager is scoped by django-scopes and raises outside `tenant_context` (fail closed);
    Postgres row-level security applies the same rule in the database (see `clinic.tenancy.rls`).
    Subclasses lead their indexes and unique constraints with `clinic`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(clinic="clinic")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        from clinic.tenancy.context import require_clinic

        current = require_clinic()
        if self.clinic_id is None:
            self.clinic = current
        elif self.clinic_id != current.pk:
            raise PermissionError("Refusing to write a row of another clinic")
        super().save(*args, **kwargs)
