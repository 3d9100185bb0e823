"""The sweep and the on-save evaluation against Postgres (as the application role, under RLS), no worker.

NOW is Monday 9 March 2026 12:00 UTC: 08:00 in New York, the morning after its clocks went forward, so
the missed-check-in look-back (the last 3 local days whose 20:00 cut-off has passed: 6, 7 and 8 March)
includes a daylight-saving day, whose cut-off is 00:00 UTC, not 01:00 as on the days before.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.tenancy.context import tenant_context
from safety.evaluation import evaluate_patient
from safety.fact_queries import missed_checkins, trend_candidates
from safety.models import Alert
from safety.rules.checkins import due_days
from safety.rules.trend import withdrawal_trend_finding
from safety.sweeps import clinic_findings, sweep_clinic
from safety.tasks import sweep_clinic as sweep_clinic_task
from tests.conftest import make_clinic, make_patient
from tests.safety.sweep_factories import (
    ciwa_answers,
    make_checkin,
    make_link,
    make_plan,
    make_reading,
    make_result,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
MARCH_1 = dt.datetime(2026, 3, 1, tzinfo=UTC)
APRIL_1 = dt.datetime(2026, 4, 1, tzinfo=UTC)
D6, D7, D8, D9 = (dt.date(2026, 3, d) for d in (6, 7, 8, 9))


def z(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def ny(db):
    return make_clinic("sweep-ny", name="New York Clinic", timezone="America/New_York")


@pytest.fixture
def la(db):
    return make_clinic("sweep-la", name="Los Angeles Clinic", timezone="America/Los_Angeles")


def alerts(clinic, rule_id: str | None = None) -> list[Alert]:
    with tenant_context(clinic):
        query = Alert.objects.all()
        if rule_id:
            query = query.filter(rule_id=rule_id)
        return list(query.order_by("dedup_key"))


def missed(clinic) -> set[tuple[str, str]]:
    return {(str(a.patient_id), a.evidence["local_date"]) for a in alerts(clinic, "checkin_missed")}


def enrolled(clinic, name: str, **link):
    patient = make_patient(clinic, first_name=name)
    make_link(patient, **({"created_at": MARCH_1, "expires_at": APRIL_1} | link))
    return patient


# --- missed check-ins ------------------------------------------------------------------------------------
def test_missed_checkins_one_alert_per_patient_and_local_day(ny):
    missing = enrolled(ny, "Missing")
    checked = enrolled(ny, "Checked")
    with tenant_context(ny):
        link = checked.checkin_links.get()
    make_checkin(checked, link, D7)
    make_checkin(checked, link, D8)
    revoked = enrolled(ny, "Revoked", revoked_at=z(2026, 3, 7, 12))  # after 6 March's cut-off, before 7th's
    # Created 20:30 EDT on the 8th: after that day's cut-off (00:00Z). A fixed EST offset would say 01:00Z.
    late = enrolled(ny, "Late", created_at=z(2026, 3, 9, 0, 30))
    # Expires 20:30 EDT on the 8th: still in force at that day's cut-off.
    lasting = enrolled(ny, "Lasting", expires_at=z(2026, 3, 9, 0, 30))
    # Expires 19:30 EST on the 7th: gone by that day's cut-off (01:00Z on the 8th).
    expired = enrolled(ny, "Expired", expires_at=z(2026, 3, 8, 0, 30))
    twice = enrolled(ny, "Two links")
    make_link(twice, created_at=MARCH_1, expires_at=APRIL_1)
    make_patient(ny, first_name="Never enrolled")

    result = sweep_clinic(clinic=ny, now=NOW)

    assert result.days == [D8, D7, D6]
    expected = {
        *((str(missing.pk), d.isoformat()) for d in (D6, D7, D8)),
        (str(checked.pk), D6.isoformat()),
        (str(revoked.pk), D6.isoformat()),
        *((str(lasting.pk), d.isoformat()) for d in (D6, D7, D8)),
        (str(expired.pk), D6.isoformat()),
        *((str(twice.pk), d.isoformat()) for d in (D6, D7, D8)),
    }
    assert missed(ny) == expected
    assert result.raised["checkin_missed"] == len(expected) == 12
    assert not any(str(late.pk) == p for p, _ in missed(ny))

    alert = next(
        a for a in alerts(ny, "checkin_missed") if a.dedup_key == f"checkin_missed:{missing.pk}:2026-03-08"
    )
    assert alert.occurred_at == z(2026, 3, 9, 0, 0)  # 20:00 EDT
    assert alert.evidence["cutoff"] == "20:00" and alert.evidence["timezone"] == "America/New_York"
    assert alert.severity == "moderate" and alert.status == "open"


def test_running_again_adds_nothing_and_the_sql_key_is_the_python_key(ny):
    enrolled(ny, "Missing")
    assert sweep_clinic(clinic=ny, now=NOW).raised["checkin_missed"] == 3
    again = sweep_clinic(clinic=ny, now=NOW)
    assert again.raised == {} and again.found == {}
    # The SQL skipped them because it builds the same dedup key the pure rule gives the alert.
    with tenant_context(ny):
        assert (
            missed_checkins(
                clinic_id=ny.pk, days=due_days(now=NOW, cutoff=dt.time(20), tz=ZoneInfo(ny.timezone))
            )
            == []
        )
    assert len(alerts(ny)) == 3


def test_the_next_day_adds_only_the_next_day(ny):
    patient = enrolled(ny, "Missing")
    sweep_clinic(clinic=ny, now=NOW)
    result = sweep_clinic(clinic=ny, now=z(2026, 3, 10, 0, 1))  # 20:01 EDT on the 9th
    assert result.days == [D9, D8, D7]
    assert result.raised == {"checkin_missed": 1}
    assert (str(patient.pk), D9.isoformat()) in missed(ny)


def test_clinic_cutoff_setting_in_its_own_time_zone(ny):
    from safety.selectors import safety_settings

    patient = enrolled(ny, "Missing")
    with tenant_context(ny):
        settings = safety_settings()
        settings.checkin_cutoff = dt.time(9, 0)
        settings.save()
    assert sweep_clinic(clinic=ny, now=z(2026, 3, 9, 12, 59)).days == [D8, D7, D6]  # 08:59 EDT
    assert sweep_clinic(clinic=ny, now=z(2026, 3, 9, 13, 0)).days == [D9, D8, D7]  # 09:00 EDT
    assert (str(patient.pk), D9.isoformat()) in missed(ny)


def test_each_clinic_sweeps_only_its_own_patients(ny, la):
    a = enrolled(ny, "Ny")
    b = enrolled(la, "La")
    sweep_clinic(clinic=ny, now=NOW)
    assert {p for p, _ in missed(ny)} == {str(a.pk)}
    assert alerts(la) == []
    sweep_clinic(clinic=la, now=NOW)  # 05:00 PDT: 6, 7, 8 March
    assert missed(la) == {(str(b.pk), d.isoformat()) for d in (D6, D7, D8)}


# --- threshold crossings, scores and guidance -----------------------------------------------------------
def test_recent_facts_raise_their_alerts(ny):
    p = make_patient(ny, first_name="Facts")
    hour_ago = NOW - dt.timedelta(hours=1)
    rr = make_reading(p, taken_at=hour_ago, created_at=hour_ago, respiratory_rate=7, heart_rate=60)
    bp = make_reading(p, taken_at=hour_ago, created_at=hour_ago, systolic_bp=185, diastolic_bp=95)
    make_reading(p, taken_at=hour_ago, created_at=hour_ago, respiratory_rate=14, spo2=97)  # normal
    old = NOW - dt.timedelta(days=4)
    make_reading(p, taken_at=old, created_at=old, respiratory_rate=6)  # outside the look-back
    phq = make_result(p, "phq9", {**{str(i): 0 for i in range(1, 9)}, "9": 1}, created_at=hour_ago)
    severe = make_result(p, "ciwa_b", ciwa_answers(41), created_at=hour_ago)
    make_result(p, "ciwa_b", ciwa_answers(40), created_at=hour_ago)
    link = make_link(p, created_at=MARCH_1, expires_at=APRIL_1)
    emergency = make_checkin(p, link, D8, guidance="emergency", created_at=hour_ago)
    call = make_checkin(p, link, D7, guidance="call_team", created_at=hour_ago)
    make_checkin(p, link, D6, created_at=hour_ago)

    result = sweep_clinic(clinic=ny, now=NOW)

    keys = {a.dedup_key for a in alerts(ny) if a.rule_id != "checkin_missed"}
    assert keys == {
        f"respiratory_rate_low:{rr.pk}",
        f"bp_hypertensive_crisis:{bp.pk}",
        f"phq9_item9_positive:{phq.pk}",
        f"withdrawal_score_severe:{severe.pk}",
        f"checkin_guidance_emergency:{emergency.pk}",
        f"checkin_guidance_call_team:{call.pk}",
    }
    assert result.raised["checkin_missed"] == 0  # the patient checked in on each of the three days
    (rr_alert,) = alerts(ny, "respiratory_rate_low")
    assert rr_alert.severity == "critical" and rr_alert.evidence["values"]["respiratory_rate"] == "7.0"
    assert sweep_clinic(clinic=ny, now=NOW).raised == {}


def test_clinic_tightened_threshold_applies_in_the_sweep(ny):
    from vitals.models import VitalThresholdSettings

    p = make_patient(ny, first_name="Tight")
    hour_ago = NOW - dt.timedelta(hours=1)
    reading = make_reading(p, taken_at=hour_ago, created_at=hour_ago, respiratory_rate=10)
    assert sweep_clinic(clinic=ny, now=NOW).raised == {}
    with tenant_context(ny):
        VitalThresholdSettings.objects.create(
            overrides={"checks": {"oversedation_low_respiratory_rate": {"value": 10}}}
        )
    assert sweep_clinic(clinic=ny, now=NOW).raised == {"respiratory_rate_low": 1}
    assert alerts(ny)[0].dedup_key == f"respiratory_rate_low:{reading.pk}"


# --- trend after a reduction step ------------------------------------------------------------------------
STEP = dt.date(2026, 3, 2)


def trend_patient(clinic, name: str, before: list[int], after: list[int], **plan):
    patient = make_patient(clinic, first_name=name)
    link = make_link(patient, created_at=z(2026, 2, 1), expires_at=APRIL_1)
    make_plan(patient, [(dt.date(2026, 2, 16), "20", "reduction"), (STEP, "18", "reduction")], **plan)
    for i, score in enumerate(before):
        make_checkin(patient, link, STEP - dt.timedelta(days=len(before) - i), symptom_score=score)
    for i, score in enumerate(after):
        make_checkin(patient, link, STEP + dt.timedelta(days=1 + i), symptom_score=score)
    return patient


def test_rising_symptom_scores_after_a_step_raise_one_trend_alert(ny):
    rising = trend_patient(ny, "Rising", [4, 5, 6], [8, 8, 9])
    flat = trend_patient(ny, "Flat", [4, 5, 6], [5, 6, 6])
    trend_patient(ny, "Held", [4, 5, 6], [8, 8, 9], held_since=dt.date(2026, 3, 5))
    result = sweep_clinic(clinic=ny, now=NOW)
    (alert,) = alerts(ny, "withdrawal_trend_rising")
    assert alert.patient_id == rising.pk
    assert alert.dedup_key == f"withdrawal_trend_rising:{rising.pk}:2026-03-02"
    (series,) = alert.evidence["series"]
    assert (series["mean_before"], series["mean_after"]) == ("5.00", "8.33")
    assert alert.evidence["step"] == {"index": "1", "daily_de_mg": "18.000"}
    assert "consider holding" in alert.evidence["suggestion"]
    assert result.raised["withdrawal_trend_rising"] == 1
    assert sweep_clinic(clinic=ny, now=NOW).raised.get("withdrawal_trend_rising") is None
    assert not any(a.patient_id == flat.pk for a in alerts(ny, "withdrawal_trend_rising"))


def test_ciwa_b_rise_after_a_step(ny):
    patient = make_patient(ny, first_name="Ciwa")
    make_plan(patient, [(dt.date(2026, 2, 16), "20", "reduction"), (STEP, "18", "reduction")])
    make_result(patient, "ciwa_b", ciwa_answers(10), completed_at=z(2026, 2, 28, 15))
    make_result(patient, "ciwa_b", ciwa_answers(16), completed_at=z(2026, 3, 6, 15))
    sweep_clinic(clinic=ny, now=NOW)
    (alert,) = alerts(ny, "withdrawal_trend_rising")
    assert [s["id"] for s in alert.evidence["series"]] == ["ciwa_b"]


def test_an_old_step_is_not_re_evaluated(ny):
    trend_patient(ny, "Old", [4, 5, 6], [8, 8, 9])
    # 20 March: the after-window (2 to 8 March) ended more than the look-back ago.
    assert sweep_clinic(clinic=ny, now=z(2026, 3, 20, 12)).raised.get("withdrawal_trend_rising") is None


def test_sql_prefilter_agrees_with_the_pure_rule(ny):
    scenarios = {
        "exact": ([4, 5, 6], [7, 8, 9], True),  # a rise of exactly 3
        "fractional": ([1, 1, 2], [4, 4, 5], True),  # 1.33 → 4.33: exactly 3 again
        "uneven": ([1, 2, 3, 4, 5, 6, 7], [7, 7, 8], True),  # 4 → 7.33
        "below": ([5, 5, 5], [8, 8, 7], False),  # 2.67
        "few_after": ([2, 2, 2], [20, 20], False),
        "few_before": ([2, 2], [9, 9, 9], False),
        "falling": ([9, 9, 9], [1, 1, 1], False),
    }
    ids = {name: trend_patient(ny, name, before, after).pk for name, (before, after, _) in scenarios.items()}
    today = D9

    def firing(prefilter: bool) -> tuple[set, set]:
        with tenant_context(ny):
            candidates = trend_candidates(
                clinic_id=ny.pk, tz=ny.timezone, today=today, lookback_days=3, prefilter=prefilter
            )
        fired = {
            c.patient_id
            for c in candidates
            if withdrawal_trend_finding(
                patient_id=c.patient_id, step_start=c.step_start, as_of=today, series=c.series, step=c.step
            )
        }
        return {c.patient_id for c in candidates}, fired

    all_candidates, fired_without = firing(prefilter=False)
    returned, fired_with = firing(prefilter=True)
    assert all_candidates == set(ids.values())
    assert fired_with == fired_without == {ids[name] for name, (_, _, fires) in scenarios.items() if fires}
    assert returned == fired_with, "the prefilter returns exactly the patients the rule fires for"


# --- a fixed number of queries per clinic ----------------------------------------------------------------
def _populate(clinic, n: int) -> None:
    hour_ago = NOW - dt.timedelta(hours=1)
    for i in range(n):
        p = trend_patient(clinic, f"P{i}", [4, 5, 6], [8, 8, 9] if i % 2 else [5, 5, 5])
        make_reading(p, taken_at=hour_ago, created_at=hour_ago, respiratory_rate=7 if i % 3 == 0 else 14)
        make_result(p, "phq9", {**{str(k): 0 for k in range(1, 9)}, "9": i % 2}, created_at=hour_ago)


def _count(clinic, fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_patients(ny, la):
    _populate(ny, 3)
    _populate(la, 15)

    def finding_queries(clinic):
        with tenant_context(clinic):
            return _count(clinic, lambda: clinic_findings(clinic=clinic, now=NOW))

    assert finding_queries(ny) == finding_queries(la)
    sweep_clinic(clinic=ny, now=NOW)
    sweep_clinic(clinic=la, now=NOW)
    steady_ny = _count(ny, lambda: sweep_clinic(clinic=ny, now=NOW))
    steady_la = _count(la, lambda: sweep_clinic(clinic=la, now=NOW))
    # settings, thresholds, 5 fact queries, alerts_raise (patients + one INSERT), savepoints, set_config
    assert steady_ny == steady_la <= 20


# --- the task and the on-save evaluation -----------------------------------------------------------------
def test_task_takes_an_explicit_now(ny):
    enrolled(ny, "Missing")
    out = sweep_clinic_task(ny.pk, now=NOW.isoformat())
    assert out["days"] == ["2026-03-08", "2026-03-07", "2026-03-06"]
    assert out["raised"] == {"checkin_missed": 3}
    with pytest.raises(ValueError, match="UTC offset"):
        sweep_clinic_task(ny.pk, now="2026-03-09T12:00:00")


def test_evaluate_patient_on_save_reads_the_saved_row_and_recent_facts(ny):
    p = make_patient(ny, first_name="Saved")
    long_ago = NOW - dt.timedelta(days=10)
    backdated = make_reading(p, taken_at=long_ago, created_at=long_ago, respiratory_rate=7)
    other = make_patient(ny, first_name="Other")
    make_reading(other, taken_at=NOW, created_at=NOW - dt.timedelta(minutes=1), spo2=85)

    with CaptureQueriesContext(connection) as ctx:
        new = evaluate_patient(clinic=ny, patient_id=p.pk, kind="vital", object_id=backdated.pk, now=NOW)
    assert [a.dedup_key for a in new] == [f"respiratory_rate_low:{backdated.pk}"]
    assert evaluate_patient(clinic=ny, patient_id=p.pk, kind="vital", object_id=backdated.pk, now=NOW) == []
    assert all(a.patient_id == p.pk for a in alerts(ny)), "only the saved patient is evaluated"
    assert len(ctx.captured_queries) < 40

    phq = make_result(p, "phq9", {**{str(i): 0 for i in range(1, 9)}, "9": 2}, created_at=NOW)
    new = evaluate_patient(clinic=ny, patient_id=str(p.pk), kind="instrument", object_id=str(phq.pk), now=NOW)
    assert [a.rule_id for a in new] == ["phq9_item9_positive"]
    with pytest.raises(ValueError):
        evaluate_patient(clinic=ny, patient_id=p.pk, kind="nonsense", object_id=None, now=NOW)


def test_evaluate_patient_finds_the_trend_when_a_checkin_is_saved(ny):
    patient = trend_patient(ny, "Rising", [4, 5, 6], [8, 8, 9])
    new = evaluate_patient(clinic=ny, patient_id=patient.pk, kind="checkin", object_id=None, now=NOW)
    assert [a.rule_id for a in new] == ["withdrawal_trend_rising"]


def test_sweep_is_on_the_beat_schedule(settings):
    from clinic.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["safety-sweep"]
    assert entry["task"] == "safety.tasks.sweep_all_clinics"
    assert entry["schedule"] == 15 * 60
    assert entry["task"] in app.tasks
