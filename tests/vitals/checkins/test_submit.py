"""The patient's check-in page: what it shows, what one submission writes, the guidance it gives, the
second submission of a day, and the day boundary in the clinic's time zone."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from taper.models import DoseRecord
from tests.clinic.tenancy.registry import snapshot
from tests.conftest import make_clinic, make_patient
from tests.vitals.checkins.factories import active_plan, answers, form_data, link_path, make_link
from vitals.checkins import services
from vitals.checkins.models import CheckIn, CheckInLink
from vitals.checkins.selectors import day_plan, local_day
from vitals.signals import clinical_fact_recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(clinic_a, link):
    return link_path(clinic_a, link)


@pytest.fixture
def plan(clinic_a, patient):
    return active_plan(clinic_a, patient)


def _today_plan(clinic, patient):
    with tenant_context(clinic):
        return day_plan(patient=patient, day=local_day(datetime.datetime.now(datetime.UTC), clinic))


def _counts(clinic) -> dict[str, int]:
    with tenant_context(clinic):
        return {
            "checkins": CheckIn.objects.count(),
            "doses": DoseRecord.objects.count(),
            "audit": AuditEvent.objects.count(),
        }


# --- the page ---------------------------------------------------------------------------------------------
def test_page_greets_by_first_name_and_says_no_plan(clinic_a, patient, link, url):
    response = Client().get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hi Avery" in body and "Quill" not in body  # first name only
    assert "has not set up a taper plan" in body
    assert 'name="dose_status"' not in body
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    with tenant_context(clinic_a):
        event = AuditEvent.objects.filter(action="view", patient_id=patient.pk).latest("id")
        assert event.actor_id is None and event.actor_label == f"patient check-in link {link.short_id}"
        assert CheckInLink.objects.get(pk=link.pk).last_used_at is not None


def test_page_shows_todays_planned_dose_in_plain_words(clinic_a, patient, link, url, plan):
    today = _today_plan(clinic_a, patient)
    body = Client().get(url).content.decode()
    morning, night = today.doses
    assert (
        f"diazepam {morning.mg.normalize():f} mg in the morning, {night.mg.normalize():f} mg at night" in body
    )
    assert 'value="took_less"' in body


def test_phone_page_has_no_staff_navigation(clinic_a, link, url):
    body = Client().get(url).content.decode()
    assert "mainnav" not in body and "Sign out" not in body and "/c/" not in body
    assert "checkin.css" in body and 'name="viewport"' in body


# --- one submission ---------------------------------------------------------------------------------------
def test_submission_writes_one_checkin_one_dose_one_audit_and_signals(clinic_a, patient, link, url, plan):
    planned = _today_plan(clinic_a, patient)
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    clinical_fact_recorded.connect(receiver)
    try:
        Client().get(url)  # open the page first (its view is audited)
        before = _counts(clinic_a)
        response = Client().post(url, form_data())
    finally:
        clinical_fact_recorded.disconnect(receiver)
    assert response.status_code == 302 and response["Location"] == url
    after = _counts(clinic_a)
    assert after["checkins"] == before["checkins"] + 1
    assert after["doses"] == before["doses"] + 1
    with tenant_context(clinic_a):
        checkin = CheckIn.objects.get()
        dose = DoseRecord.objects.get()
        events = list(AuditEvent.objects.filter(id__gt=0).order_by("-id")[: after["audit"] - before["audit"]])
    assert checkin.dose_status == "taken_as_planned" and checkin.guidance == "" and checkin.flags == []
    assert checkin.local_date == local_day(checkin.submitted_at, clinic_a)
    assert checkin.planned_mg_by_drug == {d: str(mg) for d, mg in planned.mg_by_drug.items()}
    assert dose.source == "checkin" and dose.as_planned is True and dose.day == checkin.local_date
    assert {d: Decimal(v) for d, v in dose.mg_by_drug.items()} == planned.mg_by_drug
    checkin_events = [e for e in events if e.object_id == str(checkin.pk)]
    assert len(checkin_events) == 1 and checkin_events[0].action == "create"
    assert checkin_events[0].actor_label == f"patient check-in link {link.short_id}"
    assert {e.object_type for e in events} == {"checkins.checkin", "taper.doserecord"}
    assert sent == [
        {
            "signal": clinical_fact_recorded,
            "clinic_id": clinic_a.pk,
            "patient_id": patient.pk,
            "kind": "checkin",
            "object_id": checkin.pk,
        }
    ]
    page = Client().get(url).content.decode()
    assert "Thank you, Avery" in page and "Nothing else is needed today" in page


@pytest.mark.parametrize(
    ("status", "factor", "as_planned"), [("took_less", "0.5", False), ("took_more", "2", False)]
)
def test_less_or_more_records_the_amount(clinic_a, patient, url, plan, status, factor, as_planned):
    planned = _today_plan(clinic_a, patient)
    amounts = {drug: mg * Decimal(factor) for drug, mg in planned.mg_by_drug.items()}
    data = form_data(dose_status=status, **{f"dose_{d}": mg for d, mg in amounts.items()})
    assert Client().post(url, data).status_code == 302
    with tenant_context(clinic_a):
        checkin, dose = CheckIn.objects.get(), DoseRecord.objects.get()
    assert checkin.dose_status == status
    assert {d: Decimal(v) for d, v in checkin.dose_mg_by_drug.items()} == amounts
    assert {d: Decimal(v) for d, v in dose.mg_by_drug.items()} == amounts and dose.as_planned is as_planned
    assert checkin.guidance == ("call_team" if status == "took_more" else "")


def test_missed_dose_records_zero(clinic_a, patient, url, plan):
    assert Client().post(url, form_data(dose_status="missed")).status_code == 302
    with tenant_context(clinic_a):
        dose, checkin = DoseRecord.objects.get(), CheckIn.objects.get()
    assert all(Decimal(v) == 0 for v in dose.mg_by_drug.values()) and dose.as_planned is False
    assert "dose_missed" in checkin.flags and checkin.guidance == ""


def test_without_a_plan_no_dose_is_recorded(clinic_a, url):
    assert Client().post(url, form_data(with_plan=False)).status_code == 302
    with tenant_context(clinic_a):
        assert CheckIn.objects.get().dose_status == "no_plan"
        assert DoseRecord.objects.count() == 0


def test_checkin_never_replaces_what_staff_recorded(clinic_a, patient, url, plan, staff_a):
    from taper.services import dose_record

    day = local_day(datetime.datetime.now(datetime.UTC), clinic_a)
    with tenant_context(clinic_a):
        staff_dose = dose_record(actor=staff_a["nurse"], plan=plan, day=day, source="nurse", as_planned=True)
    assert Client().post(url, form_data(dose_status="missed")).status_code == 302
    with tenant_context(clinic_a):
        assert list(DoseRecord.objects.all()) == [staff_dose]
        assert DoseRecord.objects.get().source == "nurse"
        assert CheckIn.objects.get().dose_status == "missed"


# --- bad answers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes",
    [
        {"anxiety": "11"},
        {"cravings": "-1"},
        {"sleep_hours": "25"},
        {"sleep_hours": "lots"},
        {"sym_tremor": "4"},
        {"flag_seizure": "maybe"},
        {"other_drugs": "yes", "other_drugs_text": ""},
        {"dose_status": "took_less"},  # no amount
        {"dose_status": "took_less", "dose_diazepam": "500"},  # not less
        {"dose_status": "took_more", "dose_diazepam": "0"},  # not more
        {"dose_status": "skipped"},
        {"free_text": "x" * 2001},
    ],
)
def test_bad_answers_are_form_errors_and_write_nothing(clinic_a, clinic_b, patient, url, plan, changes):
    Client().get(url)
    before = snapshot(clinic_a), snapshot(clinic_b)
    response = Client().post(url, form_data(**changes))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Please check" in body and 'id="error-summary"' in body
    assert (snapshot(clinic_a), snapshot(clinic_b)) == before


def test_missing_answers_are_listed(clinic_a, url):
    response = Client().post(url, {})
    assert response.status_code == 400
    assert "Choose none, mild, moderate or severe." in response.content.decode()


def test_a_failing_dose_record_leaves_nothing_half_written(clinic_a, patient, url, plan, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError("Doses are recorded against an active plan.")

    monkeypatch.setattr(services, "dose_record", refuse)
    Client().get(url)
    before = snapshot(clinic_a)
    response = Client().post(url, form_data())
    assert response.status_code == 400
    assert "Doses are recorded against an active plan." in response.content.decode()
    assert snapshot(clinic_a) == before


# --- guidance ---------------------------------------------------------------------------------------------
def test_emergency_answer_shows_911_first(clinic_a, url):
    response = Client().post(url, form_data(with_plan=False, flag_seizure="yes"), follow=True)
    body = response.content.decode()
    assert "Get help now" in body and 'class="checkin-call checkin-call-big" href="tel:911"' in body
    assert body.index("Get help now") < body.index("Thank you")
    with tenant_context(clinic_a):
        checkin = CheckIn.objects.get()
    assert checkin.guidance == "emergency" and "seizure" in checkin.flags


def test_self_harm_answer_shows_988(clinic_a, url):
    body = Client().post(url, form_data(with_plan=False, flag_self_harm="yes"), follow=True).content.decode()
    assert "Call or text 988" in body and 'href="tel:988"' in body


def test_call_team_guidance_shows_the_clinic_phone(clinic_a, url, staff_a):
    with tenant_context(clinic_a):
        services.checkin_settings_save(
            actor=staff_a["clinic_admin"],
            fields={"care_team_phone": "555-0199", "care_team_hours": "Mon–Fri"},
        )
    body = Client().post(url, form_data(with_plan=False, anxiety=9), follow=True).content.decode()
    assert "Call your care team today" in body and 'href="tel:555-0199"' in body
    assert "You rated your anxiety 8 or more" in body and "Get help now" not in body


# --- one a day ----------------------------------------------------------------------------------------------
def test_second_submission_the_same_day_is_refused_kindly(clinic_a, clinic_b, url):
    assert Client().post(url, form_data(with_plan=False)).status_code == 302
    before = snapshot(clinic_a), snapshot(clinic_b)
    response = Client().post(url, form_data(with_plan=False, flag_seizure="yes"))
    body = response.content.decode()
    assert response.status_code == 409
    assert "You already checked in today at" in body and "call your care team" in body
    assert (snapshot(clinic_a), snapshot(clinic_b)) == before


def test_second_link_same_day_is_refused_too(clinic_a, patient, link):
    other = make_link(clinic_a, patient)
    with tenant_context(clinic_a):
        services.checkin_submit(link=link, answers=answers(dose_status=""))
        with pytest.raises(services.AlreadyCheckedIn):
            services.checkin_submit(link=other, answers=answers(dose_status=""))
        assert CheckIn.objects.count() == 1


def test_day_boundary_is_the_clinics_midnight(db):
    clinic = make_clinic("west-clinic", timezone="America/Los_Angeles")
    patient = make_patient(clinic, status="active")
    link = make_link(clinic, patient)
    zone = zoneinfo.ZoneInfo("America/Los_Angeles")
    day = datetime.datetime.now(zone).date() - datetime.timedelta(days=2)
    late = datetime.datetime.combine(day, datetime.time(23, 59, 30), zone)
    with tenant_context(clinic):
        first = services.checkin_submit(link=link, answers=answers(dose_status=""), now=late)
        # 07:59:30 UTC is still "yesterday" in Los Angeles; a minute later it is the next day there.
        second = services.checkin_submit(
            link=link, answers=answers(dose_status=""), now=late + datetime.timedelta(minutes=1)
        )
        with pytest.raises(services.AlreadyCheckedIn) as again:
            services.checkin_submit(
                link=link, answers=answers(dose_status=""), now=late + datetime.timedelta(hours=23)
            )
    assert first.local_date == day and first.submitted_at.astimezone(
        datetime.UTC
    ).date() == day + datetime.timedelta(days=1)
    assert second.local_date == day + datetime.timedelta(days=1)
    assert again.value.checkin.pk == second.pk


def test_same_instant_is_a_different_day_in_different_clinics(db):
    instant = datetime.datetime.now(datetime.UTC).replace(hour=11, minute=30, second=0, microsecond=0)
    instant -= datetime.timedelta(days=1)
    days = {}
    for slug, zone in (("kiwi-clinic", "Pacific/Auckland"), ("hawaii-clinic", "Pacific/Honolulu")):
        clinic = make_clinic(slug, timezone=zone)
        link = make_link(clinic, make_patient(clinic, status="active"))
        with tenant_context(clinic):
            days[zone] = services.checkin_submit(
                link=link, answers=answers(dose_status=""), now=instant
            ).local_date
    assert days["Pacific/Auckland"] - days["Pacific/Honolulu"] == datetime.timedelta(days=1)


def test_the_page_uses_the_clinic_day(clinic_a, url, monkeypatch):
    """Through the view: just before the clinic's midnight the check-in is filed under that day, and the
    page then says "already checked in" until the clinic's midnight, not UTC's."""
    zone = zoneinfo.ZoneInfo(clinic_a.timezone)
    day = datetime.datetime.now(zone).date() - datetime.timedelta(days=1)
    before_midnight = datetime.datetime.combine(day, datetime.time(23, 50), zone)
    monkeypatch.setattr(services, "clock", lambda: before_midnight)
    assert Client().post(url, form_data(with_plan=False)).status_code == 302
    monkeypatch.setattr(services, "clock", lambda: before_midnight + datetime.timedelta(minutes=5))
    done = Client().get(url).content.decode()
    assert "Thank you" in done and "was sent at 23:50" in done  # the clinic's clock, not UTC
    monkeypatch.setattr(services, "clock", lambda: before_midnight + datetime.timedelta(minutes=15))
    assert 'name="sleep_hours"' in Client().get(url).content.decode()  # a new day: the form again
    with tenant_context(clinic_a):
        assert CheckIn.objects.get().local_date == day
