"""The attendance pages: the facilitator's day, one form for every participant (bad input writes nothing),
signing with individual lines, the locked note and its amendments, and the sign-in sheet without names."""

from __future__ import annotations

import pytest

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from scheduling.models import Booking, NoteAmendment, SessionNote
from tests.conftest import client_for, make_patient
from tests.pdf_checks import pdf_text
from tests.scheduling.test_attendance import LINE_A, LINE_B, session

pytestmark = pytest.mark.django_db
SUMMARY = "Skills group: reviewed diary cards and practised the STOP skill for cravings."


@pytest.fixture
def two(clinic_a):
    return (
        make_patient(clinic_a, first_name="Avery", last_name="Quillon"),
        make_patient(clinic_a, first_name="Blake", last_name="Rookwood"),
    )


def _url(clinic, occurrence, tail: str = "attendance/") -> str:
    return f"/c/{clinic.slug}/schedule/sessions/{occurrence.pk}/{tail}"


def _form(bookings, rows, summary=SUMMARY, action="save") -> dict:
    data = {"summary": summary, "action": action}
    for booking, (status, minutes, line) in zip(bookings, rows, strict=True):
        data[f"{booking.pk}-attendance"] = status
        data[f"{booking.pk}-minutes"] = minutes
        data[f"{booking.pk}-note_line"] = line
    return data


def _fresh(clinic, bookings) -> list[Booking]:
    with tenant_context(clinic):
        return [Booking.objects.get(pk=b.pk) for b in bookings]


def test_my_day_lists_the_facilitators_sessions_with_the_next_step(clinic_a, clinician, two):
    occurrence, _ = session(clinic_a, clinician, *two)
    day = occurrence.local_date.isoformat()
    body = client_for(clinician).get(f"/c/{clinic_a.slug}/schedule/my-day/?date={day}").content.decode()
    assert "Take attendance (0 of 2)" in body and _url(clinic_a, occurrence) in body
    nobody = client_for(clinician).get(f"/c/{clinic_a.slug}/schedule/my-day/?date=not-a-date")
    assert nobody.status_code == 200  # a bad date shows today


def test_take_attendance_late_and_absent_then_sign_with_individual_lines(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two, minutes=90)
    client = client_for(clinician)
    page = client.get(_url(clinic_a, occurrence)).content.decode()
    assert "Avery Quillon" in page and "Save and sign the note" in page
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(patient_id=two[0].pk, detail__view="attendance").exists()
    data = _form(bookings, [("late", "70", LINE_A), ("absent", "", "")], action="sign")
    response = client.post(_url(clinic_a, occurrence), data)
    assert response.status_code == 302
    late, absent = _fresh(clinic_a, bookings)
    assert (late.attendance, late.minutes_attended, late.note_line) == ("late", 70, LINE_A)
    assert (absent.attendance, absent.minutes_attended) == ("absent", 0)
    with tenant_context(clinic_a):
        note = SessionNote.objects.get(occurrence=occurrence)
        assert note.is_signed and note.signed_content["summary"] == SUMMARY
    signed = client.get(_url(clinic_a, occurrence)).content.decode()
    assert "Signed by" in signed and 'id="attendance-form"' not in signed and LINE_A in signed


def test_a_bad_row_is_an_error_and_writes_nothing(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two, minutes=60)
    data = _form(bookings, [("present", "", LINE_A), ("late", "", LINE_B)])  # late needs minutes
    response = client_for(clinician).post(_url(clinic_a, occurrence), data)
    assert response.status_code == 400 and "Blake Rookwood" in response.content.decode()
    assert [b.attendance for b in _fresh(clinic_a, bookings)] == ["", ""]
    with tenant_context(clinic_a):
        assert not SessionNote.objects.filter(occurrence=occurrence, summary=SUMMARY).exists()


def test_a_copied_line_is_saved_but_not_signed(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    copied = "Engaged and practised the skill in pairs with the group."
    data = _form(bookings, [("present", "", copied), ("present", "", copied)], action="sign")
    response = client_for(clinician).post(_url(clinic_a, occurrence), data)
    assert response.status_code == 400 and "copy of" in response.content.decode()
    assert [b.attendance for b in _fresh(clinic_a, bookings)] == ["present", "present"]
    with tenant_context(clinic_a):
        assert not SessionNote.objects.get(occurrence=occurrence).is_signed


def test_a_signed_note_is_locked_and_takes_amendments(clinic_a, clinician, two):
    occurrence, bookings = session(clinic_a, clinician, *two)
    client = client_for(clinician)
    client.post(
        _url(clinic_a, occurrence),
        _form(bookings, [("present", "", LINE_A), ("excused", "", "")], action="sign"),
    )
    again = client.post(
        _url(clinic_a, occurrence), _form(bookings, [("absent", "", ""), ("excused", "", "")])
    )
    assert again.status_code == 400 and "signed" in again.content.decode()
    assert _fresh(clinic_a, bookings)[0].attendance == "present"
    amend = {
        "booking": str(bookings[0].pk),
        "text": "Left 10 minutes early for a ride; not noted at the time.",
    }
    assert client.post(_url(clinic_a, occurrence, "note/amend/"), amend).status_code == 302
    with tenant_context(clinic_a):
        assert NoteAmendment.objects.get().booking_id == bookings[0].pk
    assert client.post(_url(clinic_a, occurrence, "note/amend/"), {"text": ""}).status_code == 400


def test_only_the_care_team_records_and_only_the_facilitator_signs(
    clinic_a, clinician, admissions, staff_a, two
):
    occurrence, bookings = session(clinic_a, clinician, *two)
    data = _form(bookings, [("present", "", LINE_A), ("present", "", LINE_B)], action="sign")
    assert client_for(admissions).post(_url(clinic_a, occurrence), data).status_code == 403
    from clinic.tenancy.roles import Role

    colleague = client_for(staff_a[Role.NURSE])
    assert "The facilitator" in colleague.get(_url(clinic_a, occurrence)).content.decode()
    response = colleague.post(_url(clinic_a, occurrence), data)
    assert response.status_code == 400 and "facilitator signs" in response.content.decode()


def test_sign_in_sheet_has_initials_and_mrn_but_no_names(clinic_a, clinician, two):
    occurrence, _ = session(clinic_a, clinician, *two)
    response = client_for(clinician).get(_url(clinic_a, occurrence, "sign-in-sheet.pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert two[0].mrn in text and "A. Q." in text and "B. R." in text
    assert "Quillon" not in text and "Rookwood" not in text and "Avery" not in text
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action="print", patient_id=two[1].pk).exists()


def test_the_attendance_page_and_its_save_are_flat_in_the_number_of_participants(
    clinic_a, clinician, django_assert_max_num_queries
):
    from scheduling.services import booking_add

    def people(start: int, n: int):
        return [
            make_patient(clinic_a, first_name=f"Member{i}", last_name=f"Flat{i}")
            for i in range(start, start + n)
        ]

    occurrence, bookings = session(clinic_a, clinician, *people(0, 2))
    client = client_for(clinician)
    rows = [("present", "60", f"Named trigger number {i} and practised a skill.") for i in range(2)]
    client.get(_url(clinic_a, occurrence))
    # Each count is taken at once: a captured slice indexes the connection's query log, which the next
    # request resets.
    with django_assert_max_num_queries(200) as few_post:
        client.post(_url(clinic_a, occurrence), _form(bookings, rows))
    post_count = len(few_post.captured_queries)
    client.get(_url(clinic_a, occurrence))  # the save dropped the cached alert badge
    with django_assert_max_num_queries(60) as few_get:  # measured with the note written, as below
        client.get(_url(clinic_a, occurrence))
    get_count = len(few_get.captured_queries)
    with tenant_context(clinic_a):
        bookings += [booking_add(actor=None, occurrence=occurrence, patient=p) for p in people(2, 10)]
    rows = [("present", "60", f"Named trigger number {i} and practised a skill.") for i in range(12)]
    client.get(_url(clinic_a, occurrence))  # warms the cached alert badge outside the measure
    with django_assert_max_num_queries(get_count):
        body = client.get(_url(clinic_a, occurrence)).content.decode()
    assert body.count('-attendance"') >= 12
    # One UPDATE and one audit INSERT for the room, however many came.
    with django_assert_max_num_queries(post_count):
        assert client.post(_url(clinic_a, occurrence), _form(bookings, rows)).status_code == 302
