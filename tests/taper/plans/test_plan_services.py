"""Plan lifecycle through the services: versions, approval rules, holds, resume, pace, and doses."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clinic.audit.models import AuditEvent
from taper import selectors, services
from taper.models import DoseRecord, TaperPlan, TaperPlanVersion, TaperStep
from tests.taper.factories import approve, create_plan
from tests.taper.factories import plan_input as factory_input
from tests.taper.plans.views_support import FIRST_STEP as START

pytestmark = pytest.mark.django_db
D = datetime.timedelta


def plan_input(**changes) -> services.PlanInput:
    """The usual plan, starting on a Monday ahead: holds and pace changes may not start in the past."""
    return factory_input(**{"start_date": START, **changes})


def _active_plan(patient, psychiatrist, **changes) -> TaperPlan:
    return create_plan(patient, psychiatrist, plan_input(**changes), status="active")


def test_create_stores_version_and_steps(in_a, patient_a, clinician):
    plan = services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    version = plan.current_version
    assert plan.status == TaperPlan.Status.DRAFT and version.number == 1
    steps = list(version.steps.order_by("index"))
    assert steps[0].start == START and steps[-1].end is None and steps[-1].daily_de_mg == 0
    assert all(a.daily_de_mg >= b.daily_de_mg for a, b in itertools.pairwise(steps))
    assert version.baseline_de_mg == Decimal(20)
    assert AuditEvent.objects.filter(object_id=str(version.pk), action="create").exists()


def test_only_psychiatrist_approves(in_a, patient_a, clinician, nurse, psychiatrist):
    plan = services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    services.plan_propose(actor=clinician, plan=plan)
    for who in (clinician, nurse):
        with pytest.raises(ValidationError, match="Only a psychiatrist"):
            services.plan_approve(actor=who, plan=plan)
    plan.refresh_from_db()
    assert plan.status == TaperPlan.Status.PROPOSED
    approve(plan, psychiatrist)
    plan.refresh_from_db()
    assert plan.status == TaperPlan.Status.APPROVED and plan.approved_by == psychiatrist
    assert plan.current_version.approved_by == psychiatrist


def test_cap_refused_and_override_only_by_psychiatrist(in_a, patient_a, clinician, psychiatrist):
    with pytest.raises(ValidationError) as err:
        services.plan_create(actor=clinician, patient=patient_a, data=plan_input(rate_percent=Decimal(50)))
    assert "rate_percent" in err.value.message_dict
    assert TaperPlan.objects.count() == 0
    with pytest.raises(ValidationError) as err:
        services.plan_create(
            actor=clinician,
            patient=patient_a,
            data=plan_input(rate_percent=Decimal(50), override_reason="fast"),
        )
    assert "override_reason" in err.value.message_dict
    reason = "Patient request after informed discussion"
    with pytest.raises(services.PlanRefused) as refused:  # a reason alone accepts no step
        services.plan_create(
            actor=psychiatrist,
            patient=patient_a,
            data=plan_input(rate_percent=Decimal(50), override_reason=reason),
        )
    steps = [v.step for v in refused.value.violations]
    assert refused.value.options[-1].code == "override"
    plan = services.plan_create(
        actor=psychiatrist,
        patient=patient_a,
        data=plan_input(rate_percent=Decimal(50), override_reason=reason, override_steps=steps),
    )
    version = plan.current_version
    assert len(version.violations) == len(steps) and version.override_steps == steps
    assert AuditEvent.objects.filter(object_id=str(version.pk), detail__override_steps=steps).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"regimen": [{"drug": "diazepam", "dose_mg": "0", "time_of_day": "08:00"}]}, "regimen"),
        ({"regimen": [{"drug": "diazepam", "dose_mg": "-5", "time_of_day": "08:00"}]}, "regimen"),
        ({"regimen": [{"drug": "unobtainium", "dose_mg": "5", "time_of_day": "08:00"}]}, "regimen"),
        ({"regimen": [{"drug": "diazepam", "dose_mg": "abc", "time_of_day": "08:00"}]}, "regimen"),
        ({"regimen": [{"drug": "diazepam", "dose_mg": "5", "time_of_day": "25:00"}]}, "regimen"),
        ({"regimen": []}, "regimen"),
        ({"rate_percent": Decimal(150)}, "rate_percent"),
        ({"rate_percent": Decimal(0)}, "rate_percent"),
        ({"interval_days": 0}, "interval_days"),
        ({"table": "nonsense"}, "table"),
        ({"target_de_mg": Decimal(25)}, "target_de_mg"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(in_a, patient_a, clinician, changes, field):
    with pytest.raises(ValidationError) as err:
        services.plan_create(actor=clinician, patient=patient_a, data=plan_input(**changes))
    assert field in err.value.message_dict, err.value.message_dict
    assert TaperPlan.objects.count() == TaperPlanVersion.objects.count() == TaperStep.objects.count() == 0


def test_unstocked_formulation_refused(in_a, patient_a, clinician, psychiatrist):
    from taper.formulary import formulary_set_stocked

    for fid in (
        "alprazolam:tablet:0.5mg",
        "alprazolam:tablet:1mg",
        "alprazolam:tablet:2mg",
        "alprazolam:liquid:1mg_per_ml",
    ):
        formulary_set_stocked(actor=psychiatrist, formulation_id=fid, stocked=False)
    data = plan_input(regimen=[{"drug": "alprazolam", "dose_mg": "0.5", "time_of_day": "08:00"}])
    # 0.5 mg can still be made from two 0.25 mg tablets (the cap, not the dose, is then what is at stake);
    # 0.3 mg cannot be made at all.
    with pytest.raises(services.PlanRefused) as refused:
        services.compute(data)
    assert "regimen" not in refused.value.message_dict
    bad = plan_input(regimen=[{"drug": "alprazolam", "dose_mg": "0.3", "time_of_day": "08:00"}])
    with pytest.raises(ValidationError) as err:
        services.compute(bad)
    assert "cannot be made" in str(err.value.message_dict["regimen"])


def test_one_open_plan_per_patient(in_a, patient_a, clinician):
    services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    with pytest.raises(ValidationError, match="already has an open taper plan"):
        services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    assert TaperPlan.objects.count() == 1


def test_edit_after_approval_needs_approval_again(in_a, patient_a, clinician, psychiatrist):
    plan = services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    approve(plan, psychiatrist)
    services.plan_edit(actor=clinician, plan=plan, data=plan_input(rate_percent=Decimal(5)), reason="gentler")
    plan.refresh_from_db()
    assert plan.status == TaperPlan.Status.DRAFT and plan.approved_by is None
    assert [v.number for v in plan.versions.all()] == [2, 1]
    assert plan.versions.get(number=1).approved_by == psychiatrist  # the old version stays as approved


def test_open_hold_then_resume_keeps_the_past(in_a, patient_a, psychiatrist):
    plan = _active_plan(patient_a, psychiatrist)
    v1_steps = list(plan.current_version.steps.order_by("index"))
    hold_day = START + D(days=30)
    services.plan_hold(actor=psychiatrist, plan=plan, from_date=hold_day, days=None, reason="Rebound anxiety")
    plan.refresh_from_db()
    assert plan.held_since == hold_day
    held = list(plan.current_version.steps.order_by("index"))
    assert held[-1].phase == "hold" and held[-1].end is None and held[-1].start == hold_day
    # Past steps are identical; the one running is cut the day before the hold.
    for old, new in zip(v1_steps, held[:-1], strict=False):
        assert (old.start, old.daily_de_mg, old.doses) == (new.start, new.daily_de_mg, new.doses)
    assert held[-2].end == hold_day - D(days=1)
    assert held[-1].daily_de_mg == held[-2].daily_de_mg

    resume_day = hold_day + D(days=21)
    services.plan_resume(actor=psychiatrist, plan=plan, from_date=resume_day, reason="Settled")
    plan.refresh_from_db()
    steps = list(plan.current_version.steps.order_by("index"))
    assert plan.held_since is None and plan.current_version.number == 3
    hold_step = next(s for s in steps if s.phase == "hold")
    assert hold_step.start == hold_day and hold_step.end == resume_day - D(days=1)
    after = [s for s in steps if s.start >= resume_day]
    assert after[0].start == resume_day and after[0].daily_de_mg < hold_step.daily_de_mg
    assert steps[-1].daily_de_mg == 0
    days = [s.start for s in steps]
    assert all((b - a).days >= 1 for a, b in itertools.pairwise(days))
    for a, b in itertools.pairwise(steps):  # no date skipped
        assert a.end + D(days=1) == b.start


def test_fixed_hold_extends_schedule_by_its_length(in_a, patient_a, psychiatrist):
    plan = _active_plan(patient_a, psychiatrist)
    before = plan.current_version.end_date
    services.plan_hold(actor=psychiatrist, plan=plan, from_date=START + D(days=14), days=10, reason="Exams")
    plan.refresh_from_db()
    assert plan.current_version.end_date == before + D(days=10)


def test_slow_changes_only_future(in_a, patient_a, psychiatrist, nurse):
    plan = _active_plan(patient_a, psychiatrist)
    with pytest.raises(ValidationError, match="Only a psychiatrist"):
        services.plan_slow(
            actor=nurse,
            plan=plan,
            from_date=START + D(days=28),
            reason="x",
            rate_percent=Decimal(5),
            interval_days=21,
        )
    before = plan.current_version.end_date
    services.plan_slow(
        actor=psychiatrist,
        plan=plan,
        from_date=START + D(days=28),
        reason="Struggling",
        rate_percent=Decimal(5),
        interval_days=21,
    )
    plan.refresh_from_db()
    assert plan.current_version.change == "slowed" and plan.current_version.end_date > before
    assert plan.current_version.steps.get(index=1).start == START


def test_dose_record_planned_and_actual(in_a, patient_a, psychiatrist, nurse):
    plan = _active_plan(patient_a, psychiatrist)
    day = START + D(days=1)
    record = services.dose_record(actor=nurse, plan=plan, day=day, source="nurse", as_planned=True, today=day)
    step = selectors.step_on(patient=patient_a, day=day)
    assert record.de_mg == step.daily_de_mg == record.planned_de_mg
    # A later entry the same day replaces it (audited), a check-in never replaces staff's entry.
    services.dose_record(
        actor=nurse, plan=plan, day=day, source="nurse", mg_by_drug={"diazepam": "20"}, today=day
    )
    kept = services.dose_record(
        actor=None, plan=plan, day=day, source="checkin", mg_by_drug={"diazepam": "5"}, today=day
    )
    assert kept.de_mg == Decimal(20) and DoseRecord.objects.count() == 1
    with pytest.raises(ValidationError):
        services.dose_record(
            actor=nurse, plan=plan, day=day + D(days=5), source="nurse", as_planned=True, today=day
        )
    with pytest.raises(ValidationError):
        services.dose_record(
            actor=nurse, plan=plan, day=day, source="nurse", mg_by_drug={"diazepam": "-1"}, today=day
        )
    with pytest.raises(ValidationError):
        services.dose_record(
            actor=nurse, plan=plan, day=day, source="nurse", mg_by_drug={"kryptonite": "1"}, today=day
        )


def test_step_on_and_step_dates(in_a, patient_a, psychiatrist):
    assert selectors.step_on(patient=patient_a, day=START) is None
    plan = _active_plan(patient_a, psychiatrist)
    assert selectors.step_on(patient=patient_a, day=START - D(days=1)) is None
    assert selectors.step_on(patient=patient_a, day=START + D(days=15)).index == 2
    far = selectors.step_on(patient=patient_a, day=START + D(days=3650))
    assert far.end is None and far.daily_de_mg == 0
    dates = selectors.step_dates(patient=patient_a)
    assert dates[0] == START and dates == sorted(dates)
    assert plan.status == "active"


def test_review_queue(in_a, patient_a, clinic_a, clinician, psychiatrist):
    from tests.conftest import make_patient

    proposed = services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    services.plan_propose(actor=clinician, plan=proposed)
    other = make_patient(clinic_a, first_name="Other")
    _active_plan(other, psychiatrist)
    items = selectors.review_queue(today=START + D(days=10))
    assert [i.reason for i in items] == ["awaiting_approval", "step_due"]


def test_hold_mid_step_moves_the_rest_exactly_by_its_length(in_a, patient_a, psychiatrist):
    plan = _active_plan(patient_a, psychiatrist)
    before = [(s.start, s.daily_de_mg) for s in plan.current_version.steps.order_by("index")]
    services.plan_hold(actor=psychiatrist, plan=plan, from_date=START + D(days=20), days=7, reason="Flu")
    plan.refresh_from_db()
    after = [
        (s.start, s.daily_de_mg) for s in plan.current_version.steps.exclude(phase="hold").order_by("index")
    ]
    moved = [(start, de) for start, de in before if start > START + D(days=20)]
    assert [(start + D(days=7), de) for start, de in moved] == [x for x in after if x[0] > START + D(days=20)]
    assert plan.current_version.end_date == before[-1][0] + D(days=7)


def test_only_psychiatrist_chooses_another_table(in_a, patient_a, clinician, psychiatrist):
    with pytest.raises(ValidationError) as err:
        services.plan_create(actor=clinician, patient=patient_a, data=plan_input(table="va_dod"))
    assert "table" in err.value.message_dict
    plan = services.plan_create(actor=psychiatrist, patient=patient_a, data=plan_input(table="va_dod"))
    # Editing keeps the table the psychiatrist chose without asking again.
    services.plan_edit(actor=clinician, plan=plan, data=plan_input(table="va_dod"), reason="start later")


# --- issue 9: dates, high doses, approval, revisions that keep the cap --------------------------------------
def test_a_start_in_the_past_is_refused_naming_today(in_a, patient_a, clinician):
    from clinic.tenancy.context import clinic_today

    with pytest.raises(ValidationError) as err:
        services.plan_create(
            actor=clinician, patient=patient_a, data=plan_input(start_date=START - D(days=30))
        )
    assert "past" in err.value.message_dict["start_date"][0]
    assert f"{clinic_today():%a %d %b %Y}" in err.value.message_dict["start_date"][0]
    assert TaperPlan.objects.count() == 0


def test_a_high_dose_is_saved_only_with_the_typed_daily_dose(in_a, patient_a, clinician):
    for typed in ("", "200", "2"):
        with pytest.raises(ValidationError) as err:
            services.plan_create(
                actor=clinician, patient=patient_a, data=plan_input(high_dose_confirmation=typed)
            )
        assert "Type 20 to confirm" in err.value.message_dict["high_dose_confirmation"][0]
    assert TaperPlan.objects.count() == 0
    plan = services.plan_create(
        actor=clinician, patient=patient_a, data=plan_input(high_dose_confirmation="20 mg")
    )
    version = plan.current_version
    assert version.high_dose_confirmation == "20 mg"
    high = next(w for w in version.warnings if w["code"] == "high_dose")
    assert "confirmed by typing “20 mg”" in high["detail"] and high["source"].startswith("https://")
    low = [{"drug": "diazepam", "dose_mg": "10", "time_of_day": "21:00"}]
    other = services.compute(plan_input(regimen=low, high_dose_confirmation=""))[1]
    assert not other.high_dose


def test_approval_needs_the_digest_of_the_warnings_shown_and_records_them(
    in_a, patient_a, clinician, psychiatrist
):
    plan = services.plan_create(actor=clinician, patient=patient_a, data=plan_input())
    version = plan.current_version
    assert version.warnings
    for seen in ("", "stale-digest"):
        with pytest.raises(ValidationError) as err:
            services.plan_approve(actor=psychiatrist, plan=plan, warnings_seen=seen)
        assert "warnings_seen" in err.value.message_dict
    digest = services.warnings_digest(version)
    services.plan_edit(actor=clinician, plan=plan, data=plan_input(rate_percent=Decimal(5)), reason="slower")
    with pytest.raises(ValidationError):  # the digest of the earlier version no longer fits
        services.plan_approve(actor=psychiatrist, plan=plan, warnings_seen=digest)
    plan = approve(plan, psychiatrist)
    version = TaperPlanVersion.objects.get(pk=plan.current_version_id)
    assert version.approval_warnings == version.warnings and version.approved_by == psychiatrist
    event = AuditEvent.objects.filter(object_id=str(plan.pk), detail__status=["draft", "approved"]).get()
    assert event.detail["warnings_shown"] == [w["code"] for w in version.warnings]


def test_changes_start_today_or_later_and_before_the_end(in_a, patient_a, psychiatrist):
    from taper.dates import long_date

    plan = _active_plan(patient_a, psychiatrist)
    with pytest.raises(ValidationError) as err:
        services.plan_hold(
            actor=psychiatrist, plan=plan, from_date=START, days=None, reason="x", today=START + D(1)
        )
    assert "later date" in err.value.message_dict["effective_from"][0]
    end = plan.current_version.end_date
    with pytest.raises(ValidationError) as err:
        services.plan_hold(
            actor=psychiatrist, plan=plan, from_date=end + D(days=3), days=None, reason="x", today=end
        )
    assert long_date(end) in err.value.message_dict["effective_from"][0]
    defaults = services.change_defaults(plan, START - D(days=3))
    assert defaults["hold"] == START  # not before the first step
    services.plan_hold(
        actor=psychiatrist, plan=plan, from_date=defaults["hold"], days=None, reason="Sleep", today=START
    )
    plan.refresh_from_db()
    hold = plan.current_version.steps.get(phase="hold")  # held from the first day: the baseline is held
    assert hold.start == START and hold.daily_de_mg == 20
    resume = services.change_defaults(plan, START)["resume"]
    assert resume == START + D(days=1)
    services.plan_resume(actor=psychiatrist, plan=plan, from_date=resume, reason="Settled", today=START)
    plan.refresh_from_db()
    assert plan.held_since is None


def test_a_pace_change_a_week_after_a_cut_keeps_the_cap_across_the_join(in_a, patient_a, psychiatrist):
    """20% every 14 days, then from day 21 (a week after the second cut) 20% every 7 days would put two cuts
    in one fortnight: the recomputed future counts the kept steps, so no window breaks 25%."""
    plan = _active_plan(patient_a, psychiatrist, rate_percent=Decimal(20))
    with pytest.raises(services.PlanRefused):  # 20% weekly is faster than the guideline allows
        services.plan_slow(actor=psychiatrist, plan=plan, from_date=START + D(days=21), reason="x",
                           rate_percent=Decimal(20), interval_days=7, today=START + D(days=21))  # fmt: skip
    services.plan_slow(actor=psychiatrist, plan=plan, from_date=START + D(days=21), reason="Faster",
                       rate_percent=Decimal(12), interval_days=7, today=START + D(days=21))  # fmt: skip
    plan.refresh_from_db()
    steps = list(plan.current_version.steps.order_by("index"))
    levels = [(s.start, s.daily_de_mg) for s in steps if s.phase != "hold"]

    def in_effect(on):
        return next((de for start, de in reversed(levels) if start <= on), Decimal(20))

    for step in steps:
        ref = in_effect(step.start - D(days=14))
        exempt = {"tail", "final_step"} & set(step.flags)
        assert step.daily_de_mg >= ref * Decimal("0.75") or exempt, (step.index, step.daily_de_mg, ref)
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))


def test_a_revision_keeps_a_cut_the_psychiatrist_accepted(in_a, patient_a, psychiatrist):
    """Diazepam 5 mg with only 5 mg tablets: 5 → 2.5 mg is accepted by override at step 1. A hold later
    recomputes the future; the same cut (5 → 2.5) stays accepted under the same reason without asking."""
    from taper.formulary import formulary_set_stocked

    for fid in ("diazepam:tablet:2mg", "diazepam:tablet:10mg", "diazepam:liquid:1mg_per_ml"):
        formulary_set_stocked(actor=psychiatrist, formulation_id=fid, stocked=False)
    five = [{"drug": "diazepam", "dose_mg": "5", "time_of_day": "21:00"}]
    data = plan_input(
        regimen=five, high_dose_confirmation="", override_reason="Only 5 mg tablets here", override_steps=[1]
    )
    plan = create_plan(patient_a, psychiatrist, data, status="active")
    assert "cap_override" in plan.current_version.steps.get(index=1).flags
    services.plan_hold(actor=psychiatrist, plan=plan, from_date=START, days=7, reason="Exams", today=START)
    plan.refresh_from_db()
    version = plan.current_version
    assert version.change == "held" and version.override_reason == "Only 5 mg tablets here"
    accepted = [s for s in version.steps.order_by("index") if "cap_override" in s.flags]
    assert [(s.daily_de_mg) for s in accepted] == [Decimal("2.5")] and version.override_steps == [
        accepted[0].index
    ]
