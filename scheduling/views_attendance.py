"""Taking attendance and writing the session note: the facilitator's day, one session's attendance page
(every participant's status, minutes and own line, the group summary, signing, then amendments) and the
sign-in sheet PDF for the room. Thin: scheduling.attendance decides and audits writes; reads of patient
data are audited here."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.pdf import pdf_response, render_pdf
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from scheduling import attendance, selectors
from scheduling.forms_attendance import AmendForm, AttendanceRowForm, SummaryForm
from scheduling.models import ATTENDED, Booking, Occurrence, SessionNote

OPENS_BEFORE = dt.timedelta(minutes=30)  # as attendance.attendance_record allows


def _audit_list(request: HttpRequest, bookings, view: str) -> None:
    audit_many(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        items=[
            {
                "object_type": "scheduling.booking",
                "object_id": str(b.pk),
                "patient": b.patient_id,
                "detail": {"view": view},
            }
            for b in bookings
        ],
    )


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def my_day_view(request: HttpRequest) -> HttpResponse:
    """The signed-in facilitator's sessions on a day, each with how far attendance and the note are."""
    today = clinic_today()
    try:
        day = dt.date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else today
    except ValueError:
        day = today
    live = ~Q(bookings__status=Booking.Status.CANCELLED)
    sessions = list(
        Occurrence.objects.filter(facilitator=request.user, local_date=day)
        .select_related("room", "session_type", "note")
        .annotate(
            n_people=Count("bookings", filter=live & Q(bookings__status=Booking.Status.BOOKED)),
            n_recorded=Count("bookings", filter=live & ~Q(bookings__attendance="")),
        )
        .order_by("starts_at")
    )
    context = {
        "day": day,
        "today": today,
        "sessions": sessions,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
    }
    return render(request, "scheduling/attendance/my_day.html", context)


def _row_forms(request: HttpRequest, bookings, bound: bool) -> list[tuple[Booking, AttendanceRowForm]]:
    rows = []
    for b in bookings:
        initial = {"attendance": b.attendance, "minutes": b.minutes_attended, "note_line": b.note_line}
        form = AttendanceRowForm(request.POST if bound else None, prefix=str(b.pk), initial=initial)
        rows.append((b, form))
    return rows


def _page(request: HttpRequest, occurrence: Occurrence, **extra) -> HttpResponse:
    bookings = extra.pop("bookings", None) or list(selectors.participants(occurrence))
    note = SessionNote.objects.filter(occurrence=occurrence).select_related("signed_by").first()
    signed = note is not None and note.is_signed
    amendments = (
        list(note.amendments.select_related("author", "booking__patient").order_by("created_at"))
        if note
        else []
    )
    opens_at = occurrence.starts_at - OPENS_BEFORE
    context = {
        "occurrence": occurrence,
        "note": note,
        "signed": signed,
        "rows": extra.pop("rows", None) or _row_forms(request, bookings, bound=False),
        "summary_form": extra.pop("summary_form", None)
        or SummaryForm(initial={"summary": note.summary if note else ""}),
        "amend_form": extra.pop("amend_form", None) or AmendForm(bookings=[b for b in bookings]),
        "amendments": amendments,
        "signed_rows": _signed_rows(note, bookings) if signed else [],
        "is_open": occurrence.status == Occurrence.Status.SCHEDULED,
        "not_yet": timezone.now() < opens_at,
        "opens_at": opens_at,
        "may_record": request.membership.allows(Perm.ATTENDANCE_RECORD),
        "is_facilitator": occurrence.facilitator_id == request.user.pk,
        "problems": extra.pop("problems", []),
        **extra,
    }
    status = 400 if context["problems"] else 200
    return render(request, "scheduling/attendance/attendance.html", context, status=status)


def _signed_rows(note: SessionNote, bookings) -> list[dict]:
    """The note as signed: each participant's attendance, minutes and line frozen at signing."""
    names = {str(b.pk): b.patient for b in bookings}
    labels = dict(Booking._meta.get_field("attendance").choices)
    return [
        {
            "patient": names.get(p["booking"]),
            "attendance": labels.get(p["attendance"], "Not recorded"),
            "minutes": p["minutes"],
            "line": p["line"],
        }
        for p in (note.signed_content or {}).get("participants", [])
    ]


@require_perm(Perm.ATTENDANCE_RECORD)  # the care team; others read the roster on the session page
@require_http_methods(["GET", "POST"])
def attendance_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    occurrence = selectors.occurrence_get(occurrence_id)
    bookings = list(selectors.participants(occurrence))
    if request.method == "GET":
        _audit_list(request, bookings, "attendance")
        return _page(request, occurrence, bookings=bookings)
    if not request.membership.allows(Perm.ATTENDANCE_RECORD):
        return render(request, "403.html", status=403)
    rows = _row_forms(request, bookings, bound=True)
    summary_form = SummaryForm(request.POST)
    invalid = [f for _, f in rows if not f.is_valid()] + ([] if summary_form.is_valid() else [summary_form])
    if invalid:
        problems = ["Correct the marked fields."]
        return _page(
            request, occurrence, bookings=bookings, rows=rows, summary_form=summary_form, problems=problems
        )
    sign = request.POST.get("action") == "sign"
    try:
        with transaction.atomic():  # attendance and summary together, or neither
            result = attendance.attendance_record(
                actor=request.user, occurrence=occurrence, rows={str(b.pk): f.row() for b, f in rows}
            )
            attendance.note_save(
                actor=request.user, occurrence=occurrence, summary=summary_form.cleaned_data["summary"]
            )
    except ValidationError as error:
        return _page(
            request,
            occurrence,
            bookings=bookings,
            rows=rows,
            summary_form=summary_form,
            problems=error.messages,
        )
    for warning in result.warnings:
        messages.warning(request, warning)
    if not sign:
        messages.success(request, "Attendance saved.")
        return redirect(clinic_reverse("scheduling:attendance", occurrence_id=occurrence.pk))
    try:
        attendance.note_sign(
            actor=request.user, occurrence=occurrence, summary=summary_form.cleaned_data["summary"]
        )
    except ValidationError as error:
        messages.info(request, "Attendance saved; the note is not signed yet.")
        bookings = list(selectors.participants(occurrence))
        return _page(
            request,
            occurrence,
            bookings=bookings,
            rows=_row_forms(request, bookings, bound=True),
            summary_form=summary_form,
            problems=error.messages,
        )
    messages.success(request, "Note signed. It is locked now; add an amendment if something needs to change.")
    return redirect(clinic_reverse("scheduling:attendance", occurrence_id=occurrence.pk))


@require_perm(Perm.ATTENDANCE_RECORD)
@require_POST
def note_amend_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    occurrence = selectors.occurrence_get(occurrence_id)
    bookings = list(selectors.participants(occurrence))
    form = AmendForm(request.POST, bookings=bookings)
    note = SessionNote.objects.filter(occurrence=occurrence).first()
    if form.is_valid() and note is not None:
        booking = next((b for b in bookings if str(b.pk) == form.cleaned_data["booking"]), None)
        try:
            attendance.note_amend(
                actor=request.user, note=note, text=form.cleaned_data["text"], booking=booking
            )
        except ValidationError as error:
            return _page(request, occurrence, bookings=bookings, amend_form=form, problems=error.messages)
        messages.success(request, "Amendment added.")
        return redirect(clinic_reverse("scheduling:attendance", occurrence_id=occurrence.pk) + "#amendments")
    problems = ["The note is not signed yet: edit it instead."] if note is None else ["Write the amendment."]
    return _page(request, occurrence, bookings=bookings, amend_form=form, problems=problems)


def initials(patient) -> str:
    first = (patient.preferred_name or patient.first_name or "?")[:1]
    return f"{first}. {(patient.last_name or '?')[:1]}.".upper()


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def sign_in_sheet_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    """A paper sheet for the room: initials and MRN only (whoever sees the sheet sees no full names)."""
    occurrence = selectors.occurrence_get(occurrence_id)
    bookings = [b for b in selectors.participants(occurrence) if b.status == Booking.Status.BOOKED]
    audit_many(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        items=[
            {
                "object_type": "scheduling.booking",
                "object_id": str(b.pk),
                "patient": b.patient_id,
                "detail": {"document": "sign-in sheet"},
            }
            for b in bookings
        ],
    )
    audit(
        actor=request.user,
        action=AuditEvent.Action.PRINT,
        obj=occurrence,
        detail={"document": "sign-in sheet"},
    )
    rows = [
        {"initials": initials(b.patient), "mrn": b.patient.mrn, "attended": b.attendance in ATTENDED}
        for b in bookings
    ]
    context = {"occurrence": occurrence, "rows": rows, "clinic": request.clinic, "printed_at": timezone.now()}
    content = render_pdf("pdf/sign_in_sheet.html", context)
    return pdf_response(content, f"sign-in-{occurrence.local_date.isoformat()}.pdf")
