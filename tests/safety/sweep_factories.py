"""Rows for the sweep tests, written straight through the ORM (not the services) so a test controls every
timestamp: links created/expiring/revoked at exact instants, facts written at a chosen `created_at`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic


def _clinic(patient) -> Clinic:
    return Clinic.objects.get(pk=patient.clinic_id)


def _stamp(model, pk, created_at: dt.datetime | None) -> None:
    if created_at is not None:
        model.objects.filter(pk=pk).update(created_at=created_at)


def make_link(
    patient, *, created_at: dt.datetime, expires_at: dt.datetime, revoked_at: dt.datetime | None = None
):
    from vitals.checkins.models import CheckInLink

    with tenant_context(_clinic(patient)):
        link = CheckInLink.objects.create(patient=patient, expires_at=expires_at, revoked_at=revoked_at)
        _stamp(CheckInLink, link.pk, created_at)
        return CheckInLink.objects.get(pk=link.pk)


def make_checkin(
    patient,
    link,
    day: dt.date,
    *,
    submitted_at: dt.datetime | None = None,
    guidance: str = "",
    symptom_score: int = 0,
    created_at: dt.datetime | None = None,
):
    from vitals.checkins.models import CheckIn

    with tenant_context(_clinic(patient)):
        checkin = CheckIn.objects.create(
            patient=patient,
            link=link,
            local_date=day,
            submitted_at=submitted_at or timezone.now(),
            dose_status="no_plan",
            symptom_form_version="1",
            symptom_score=symptom_score,
            sleep_hours=Decimal("7.0"),
            sleep_quality="fair",
            anxiety=3,
            cravings=2,
            alcohol=False,
            other_drugs=False,
            guidance=guidance,
            guidance_version="1",
        )
        _stamp(CheckIn, checkin.pk, created_at)
        return checkin


def make_reading(
    patient, *, taken_at: dt.datetime | None = None, created_at: dt.datetime | None = None, **values
):
    """values by VitalValue kind, e.g. respiratory_rate=7, systolic_bp=185, diastolic_bp=95."""
    from vitals.models import VitalReading, VitalValue

    taken_at = taken_at or timezone.now()
    with tenant_context(_clinic(patient)):
        reading = VitalReading.objects.create(patient=patient, taken_at=taken_at, taken_by="Nurse Test")
        for kind, value in values.items():
            VitalValue.objects.create(
                reading=reading,
                patient=patient,
                kind=kind,
                value=Decimal(str(value)),
                unit="x",
                loinc="0000-0",
                taken_at=taken_at,
            )
        _stamp(VitalReading, reading.pk, created_at)
        if created_at is not None:
            VitalValue.objects.filter(reading=reading).update(created_at=created_at)
        return reading


def make_result(
    patient,
    instrument: str,
    answers: dict[str, int],
    *,
    completed_at: dt.datetime | None = None,
    created_at: dt.datetime | None = None,
):
    from vitals.models import InstrumentResult

    with tenant_context(_clinic(patient)):
        result = InstrumentResult.objects.create(
            patient=patient,
            instrument=instrument,
            instrument_name=instrument.upper(),
            instrument_version="test",
            answers=answers,
            total=Decimal(sum(answers.values())),
            band="",
            band_label="",
            completed_at=completed_at or timezone.now(),
        )
        _stamp(InstrumentResult, result.pk, created_at)
        return result


def ciwa_answers(total: int) -> dict[str, int]:
    answers, left = {}, total
    for item in range(1, 21):
        answers[str(item)] = min(4, left)
        left -= answers[str(item)]
    return answers


def make_plan(patient, steps: list[tuple[dt.date, str, str]], *, held_since: dt.date | None = None):
    """An active plan whose current version has `steps`: [(start, daily_de_mg, phase)], in order."""
    from taper.models import TaperPlan, TaperPlanVersion, TaperStep

    with tenant_context(_clinic(patient)):
        plan = TaperPlan.objects.create(patient=patient, status="active", held_since=held_since)
        version = TaperPlanVersion.objects.create(
            plan=plan,
            patient=patient,
            number=1,
            change="created",
            reason="test",
            effective_from=steps[0][0],
            table="ashton",
            strategy="direct",
            regimen=[],
            rate_percent=Decimal(10),
            interval_days=14,
            formulations=[],
            baseline_de_mg=Decimal(steps[0][1]),
            end_date=steps[-1][0],
            final_de_mg=Decimal(steps[-1][1]),
            cap_wording="",
            cap_source="",
        )
        for index, (start, de_mg, phase) in enumerate(steps):
            following = steps[index + 1][0] if index + 1 < len(steps) else None
            TaperStep.objects.create(
                version=version,
                plan=plan,
                patient=patient,
                index=index,
                phase=phase,
                start=start,
                end=following - dt.timedelta(days=1) if following else None,
                daily_de_mg=Decimal(de_mg),
                window_reduction_percent=Decimal(0),
                doses=[],
            )
        plan.current_version = version
        plan.save(update_fields=["current_version", "updated_at"])
        return plan
