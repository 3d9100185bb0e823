"""Reads of the insurance area, query-count conscious: a patient's panel is a fixed handful of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from patients.insurance import rules
from patients.insurance.models import (
    Authorization,
    AuthorizationUsage,
    BenefitVerification,
    ClinicBillingProfile,
    Coverage,
    EligibilityCheck,
)
from patients.models import Patient

_PRIORITY_ORDER = {"primary": 0, "secondary": 1, "tertiary": 2}


def with_units_used(queryset: QuerySet[Authorization]) -> QuerySet[Authorization]:
    used = (
        AuthorizationUsage.objects.filter(authorization=OuterRef("pk"))
        .order_by()
        .values("authorization")
        .annotate(total=Sum("units"))
        .values("total")
    )
    return queryset.annotate(units_used=Coalesce(Subquery(used, output_field=IntegerField()), 0))


def authorization_balance(auth: Authorization, *, today: dt.date | None = None) -> rules.AuthorizationBalance:
    used = getattr(auth, "units_used", None)
    if used is None:
        used = AuthorizationUsage.objects.filter(authorization=auth).aggregate(n=Sum("units"))["n"] or 0
    return rules.authorization_balance(
        authorized=auth.units_authorized,
        used=used,
        end_date=auth.end_date,
        next_review_date=auth.next_review_date,
        today=today or timezone.localdate(),
        active=auth.status == Authorization.Status.ACTIVE,
        unit_label=auth.get_unit_type_display().lower(),
    )


@dataclass
class CoverageSummary:
    coverage: Coverage
    latest_verification: BenefitVerification | None
    authorizations: list[tuple[Authorization, rules.AuthorizationBalance]] = field(default_factory=list)
    next_actions: list[str] = field(default_factory=list)


def coverages_for_patient(*, patient: Patient) -> list[Coverage]:
    """The patient's coverages, active first by priority, each with `latest_verification` and
    `authorization_list` (each authorization annotated with `units_used`). Three queries, any count."""
    latest = BenefitVerification.objects.order_by("-verified_at", "-created_at")
    coverages = list(
        Coverage.objects.filter(patient=patient).prefetch_related(
            Prefetch("verifications", queryset=latest, to_attr="verification_list"),
            Prefetch(
                "authorizations",
                queryset=with_units_used(Authorization.objects.order_by("-start_date", "-created_at")),
                to_attr="authorization_list",
            ),
        )
    )
    coverages.sort(
        key=lambda c: (not c.is_active, _PRIORITY_ORDER.get(c.priority, 9), -c.effective_from.toordinal())
    )
    for coverage in coverages:
        coverage.latest_verification = coverage.verification_list[0] if coverage.verification_list else None
    return coverages


def patient_insurance_panel(*, patient: Patient) -> list[CoverageSummary]:
    today = timezone.localdate()
    summaries = []
    for coverage in coverages_for_patient(patient=patient):
        summary = CoverageSummary(coverage, coverage.latest_verification)
        for auth in coverage.authorization_list:
            summary.authorizations.append((auth, authorization_balance(auth, today=today)))
        if coverage.is_active:
            latest = summary.latest_verification
            if latest is None:
                summary.next_actions.append("Verify benefits (no verification yet).")
            elif (today - timezone.localtime(latest.verified_at).date()).days > 30:
                summary.next_actions.append("Re-verify benefits (last verified over 30 days ago).")
            if (
                latest is not None
                and latest.prior_authorization_required == "yes"
                and not any(a.status == Authorization.Status.ACTIVE for a in coverage.authorization_list)
            ):
                summary.next_actions.append("Prior authorization required: record the authorization.")
            for auth, balance in summary.authorizations:
                summary.next_actions += [f"{auth.get_level_of_care_display()}: {w}" for w in balance.warnings]
        summaries.append(summary)
    return summaries


def authorizations_review_due(*, within_days: int = 7) -> QuerySet[Authorization]:
    """Active authorizations whose next review is within `within_days` (overdue ones included), soonest
    first, with coverage and patient joined in the same query."""
    horizon = timezone.localdate() + dt.timedelta(days=within_days)
    return (
        with_units_used(
            Authorization.objects.filter(
                status=Authorization.Status.ACTIVE,
                next_review_date__isnull=False,
                next_review_date__lte=horizon,
            )
        )
        .select_related("coverage__patient")
        .order_by("next_review_date", "end_date", "pk")
    )


def coverage_get(*, coverage_id) -> Coverage:
    return get_object_or_404(Coverage.objects.select_related("patient"), pk=coverage_id)


def verification_get(*, verification_id) -> BenefitVerification:
    return get_object_or_404(
        BenefitVerification.objects.select_related("coverage__patient", "verified_by", "eligibility_check"),
        pk=verification_id,
    )


def verifications_for_coverage(*, coverage: Coverage) -> QuerySet[BenefitVerification]:
    return coverage.verifications.select_related("verified_by", "eligibility_check").order_by(
        "-verified_at", "-created_at"
    )


def eligibility_check_get(*, check_id) -> EligibilityCheck:
    return get_object_or_404(
        EligibilityCheck.objects.select_related("coverage__patient", "requested_by"), pk=check_id
    )


def eligibility_checks_for_coverage(*, coverage: Coverage) -> QuerySet[EligibilityCheck]:
    return coverage.eligibility_checks.order_by("-created_at")


def authorization_get(*, authorization_id) -> Authorization:
    return get_object_or_404(
        with_units_used(Authorization.objects.select_related("coverage__patient")), pk=authorization_id
    )


def authorization_usages(*, authorization: Authorization) -> QuerySet[AuthorizationUsage]:
    return authorization.usages.select_related("entered_by").order_by("-service_date", "-created_at")


def billing_profile() -> ClinicBillingProfile | None:
    return ClinicBillingProfile.objects.first()
