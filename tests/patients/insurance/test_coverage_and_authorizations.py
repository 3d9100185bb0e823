"""Coverage rules, manual verifications, authorization balances and their boundaries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.tenancy.context import tenant_context
from patients.insurance import rules, selectors, services
from patients.insurance.models import Authorization, AuthorizationUsage, BenefitVerification, Coverage
from tests.dates import clinic_date
from tests.patients.insurance.conftest import coverage_fields

pytestmark = pytest.mark.django_db


def _errors(excinfo) -> dict:
    return excinfo.value.message_dict


@pytest.mark.parametrize(
    ("over", "field", "text"),
    [
        ({"effective_to": dt.date(2025, 12, 31)}, "effective_to", "cannot end before it starts"),
        ({"member_id": "ABC 123"}, "member_id", "2–80 letters, digits or dashes"),
        ({"member_id": "A"}, "member_id", "2–80"),
        ({"payer_id": "ACME 1"}, "payer_id", "letters, digits or dashes"),
        ({"payer_name": "X" * 61}, "payer_name", "at most 60"),
        ({"subscriber_relationship": "child"}, "subscriber_last_name", "not the subscriber"),
        ({"priority": "fourth"}, "priority", "not a valid choice"),
    ],
)
def test_bad_coverage_is_refused_and_nothing_saved(clinic_a, patient_a, over, field, text):
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as excinfo:
            services.coverage_create(actor=None, patient=patient_a, fields=coverage_fields(**over))
        assert text in " ".join(_errors(excinfo)[field])
        assert Coverage.objects.count() == 0


def test_one_active_coverage_per_priority(clinic_a, patient_a, coverage):
    with tenant_context(clinic_a):
        with pytest.raises(ValidationError) as excinfo:
            services.coverage_create(actor=None, patient=patient_a, fields=coverage_fields(member_id="XYZ-9"))
        assert "already has an active primary coverage" in _errors(excinfo)["priority"][0]
        # Inactive old coverage does not block a new primary.
        services.coverage_update(actor=None, coverage=coverage, fields={"is_active": False})
        services.coverage_create(actor=None, patient=patient_a, fields=coverage_fields(member_id="XYZ-9"))
        assert Coverage.objects.filter(is_active=True).count() == 1


def test_subscriber_copy_is_dropped_when_the_patient_is_the_subscriber(clinic_a, patient_a):
    with tenant_context(clinic_a):
        coverage = services.coverage_create(
            actor=None,
            patient=patient_a,
            fields=coverage_fields(subscriber_first_name="Ignored", member_id="abc-123"),
        )
    assert coverage.subscriber_first_name == "" and coverage.member_id == "ABC-123"


def test_manual_verification_and_its_rules(clinic_a, coverage):
    with tenant_context(clinic_a):
        v = services.verification_record(
            actor=None,
            coverage=coverage,
            fields={
                "method": "phone",
                "iop_covered": "yes",
                "deductible_amount": 1000,
                "deductible_met": 200,
            },
        )
        assert v.verified_at is not None
        with pytest.raises(ValidationError) as excinfo:
            services.verification_record(
                actor=None,
                coverage=coverage,
                fields={"method": "phone", "deductible_amount": 100, "deductible_met": 200},
            )
        assert "deductible_met" in _errors(excinfo)
        with pytest.raises(ValidationError, match="eligibility check"):
            services.verification_record(actor=None, coverage=coverage, fields={"method": "electronic"})
        with pytest.raises(ValidationError) as excinfo:
            services.verification_record(
                actor=None, coverage=coverage, fields={"method": "phone", "notes": "x" * 2001}
            )
        assert "notes" in _errors(excinfo)
        assert BenefitVerification.objects.count() == 1


def _auth(clinic, coverage, **over) -> Authorization:
    fields = {
        "level_of_care": "iop",
        "authorization_number": "A-1",
        "units_authorized": 5,
        "unit_type": "days",
        "start_date": dt.date(2026, 1, 5),
        "end_date": dt.date(2026, 2, 5),
        **over,
    }
    with tenant_context(clinic):
        return services.authorization_create(actor=None, coverage=coverage, fields=fields)


def _use(clinic, auth, day, units=1):
    with tenant_context(clinic):
        return services.authorization_usage_add(actor=None, authorization=auth, service_date=day, units=units)


def test_used_and_remaining_and_the_boundaries(clinic_a, coverage):
    auth = _auth(clinic_a, coverage)
    _use(clinic_a, auth, dt.date(2026, 1, 5))  # first day counts
    _use(clinic_a, auth, dt.date(2026, 2, 5), units=2)  # last day counts
    with tenant_context(clinic_a):
        balance = selectors.authorization_balance(auth, today=dt.date(2026, 1, 10))
    assert (balance.used, balance.remaining) == (3, 2)
    assert any("Only 2 days left" in w for w in balance.warnings)
    for day, units, field, text in [
        (dt.date(2026, 1, 4), 1, "service_date", "outside it"),
        (dt.date(2026, 2, 6), 1, "service_date", "outside it"),
        (dt.date(2026, 1, 6), 3, "units", "Only 2 left"),
    ]:
        with pytest.raises(ValidationError) as excinfo:
            _use(clinic_a, auth, day, units)
        assert text in _errors(excinfo)[field][0]
    _use(clinic_a, auth, dt.date(2026, 1, 6), units=2)
    with pytest.raises(ValidationError, match="Only 0 left"):
        _use(clinic_a, auth, dt.date(2026, 1, 7))
    with tenant_context(clinic_a):
        assert AuthorizationUsage.objects.count() == 3
        with pytest.raises(ValidationError) as excinfo:
            services.authorization_update(actor=None, authorization=auth, fields={"units_authorized": 4})
        assert "5 days are recorded" in _errors(excinfo)["units_authorized"][0]


def test_denied_authorization_takes_no_usage_and_dates_must_be_in_order(clinic_a, coverage):
    auth = _auth(clinic_a, coverage, status="denied")
    with pytest.raises(ValidationError, match="denied"):
        _use(clinic_a, auth, dt.date(2026, 1, 6))
    with pytest.raises(ValidationError) as excinfo:
        _auth(clinic_a, coverage, end_date=dt.date(2026, 1, 1))
    assert "end_date" in _errors(excinfo)


def test_attendance_feed_is_idempotent(clinic_a, coverage):
    auth = _auth(clinic_a, coverage)
    with tenant_context(clinic_a):
        for _ in range(2):
            services.authorization_usage_add(
                actor=None,
                authorization=auth,
                service_date=dt.date(2026, 1, 6),
                source="attendance",
                source_key="att-1",
            )
        assert AuthorizationUsage.objects.filter(source="attendance").count() == 1


def test_balance_warnings_rule():
    today = dt.date(2026, 3, 1)
    b = rules.authorization_balance(
        authorized=10,
        used=2,
        end_date=dt.date(2026, 3, 6),
        next_review_date=dt.date(2026, 2, 28),
        today=today,
    )
    assert b.remaining == 8 and b.warnings == ("Ends in 5 days (Mar 6).", "Concurrent review overdue.")
    quiet = rules.authorization_balance(
        authorized=10, used=2, end_date=dt.date(2026, 6, 1), next_review_date=None, today=today
    )
    assert quiet.warnings == ()


def test_review_due_selector_orders_and_joins_the_patient(clinic_a, coverage, patient_a):
    today = clinic_date()
    soon = _auth(
        clinic_a,
        coverage,
        start_date=today,
        end_date=today + dt.timedelta(days=30),
        next_review_date=today + dt.timedelta(days=3),
    )
    overdue = _auth(
        clinic_a,
        coverage,
        start_date=today,
        end_date=today + dt.timedelta(days=30),
        next_review_date=today - dt.timedelta(days=1),
        level_of_care="php",
    )
    _auth(
        clinic_a,
        coverage,
        start_date=today,
        end_date=today + dt.timedelta(days=30),
        next_review_date=today + dt.timedelta(days=20),
    )
    _auth(
        clinic_a,
        coverage,
        start_date=today,
        end_date=today + dt.timedelta(days=30),
        next_review_date=today,
        status="denied",
    )
    with tenant_context(clinic_a), CaptureQueriesContext(connection) as queries:
        due = list(selectors.authorizations_review_due(within_days=7))
        names = [a.coverage.patient.display_name for a in due]
    assert [a.pk for a in due] == [overdue.pk, soon.pk]
    assert names == [patient_a.display_name] * 2 and len(queries) == 1


def test_coverages_for_patient_has_a_flat_query_count(clinic_a, patient_a, coverage):
    with tenant_context(clinic_a):
        services.coverage_create(
            actor=None, patient=patient_a, fields=coverage_fields(priority="secondary", member_id="S-2")
        )
        services.verification_record(actor=None, coverage=coverage, fields={"method": "portal"})
    _auth(clinic_a, coverage)
    with tenant_context(clinic_a), CaptureQueriesContext(connection) as queries:
        coverages = selectors.coverages_for_patient(patient=patient_a)
        shown = [
            (c.priority, c.latest_verification, [a.units_used for a in c.authorization_list])
            for c in coverages
        ]
    assert [s[0] for s in shown] == ["primary", "secondary"]
    assert shown[0][1].method == "portal" and shown[0][2] == [0]
    assert len(queries) == 3
