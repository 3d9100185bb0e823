"""Browser views of the calendar and bookings: the week and the day, one session (roster, booking,
cancelling a booking, moving or cancelling the session), a patient's schedule (enrolment, one-off
bookings, attendance so far) and its panel on the patient record.

Thin: forms parse, scheduling.services decides, writes and audits, selectors_calendar reads;
scheduling.authorizations looks ahead at the patient's insurance authorization before a booking or an
enrolment, and a warning there needs an explicit "book anyway". Reads of patient data are audited here.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit, audit_many
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse
from patients.selectors import patient_get
from scheduling import authorizations, selectors, services
from scheduling import selectors_calendar as calendar
from scheduling.forms_calendar import (
    BookForm,
    BookingCancelForm,
    CalendarFilterForm,
    EnrolForm,
    EnrolmentEndForm,
    MoveForm,
    NewSessionForm,
    OccurrenceCancelForm,
    PatientBookForm,
    when,
)
from scheduling.hours import week_start
from scheduling.models import Booking, Occurrence

VIEW = AuditEvent.Action.VIEW
GET_POST = ["GET", "POST"]
PANEL_UPCOMING = 5
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9000, 12, 31)


def _status(*forms: Form) -> int:
    return 400 if any(f.is_bound and f.errors for f in forms) else 200


def _date_param(request: HttpRequest, name: str, default: dt.date) -> dt.date:
    """`?week=` / `?date=` as YYYY-MM-DD; anything else is today (a bad link is not an error page), and so
    is a date so far out that the previous or next week would not be a date."""
    try:
        day = dt.date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return default
    return day if FIRST_DAY <= day <= LAST_DAY else default


def _audit_patient(request: HttpRequest, patient, page: str, **detail) -> None:
    audit(actor=request.user, action=VIEW, obj=patient, patient=patient, detail={"view": page, **detail})


# --- week and day --------------------------------------------------------------------------------------
def _calendar_context(request: HttpRequest, first: dt.date, last: dt.date, param: str, step: int) -> dict:
    form = CalendarFilterForm(request.GET, choices=calendar.filter_choices())
    where = form.selected()
    days = calendar.sessions_between(first, last, where)
    kept = {
        k: v
        for k, v in (("facilitator", where.facilitator), ("room", where.room), ("program", where.program))
        if v
    }

    def link(day: dt.date | None) -> str:
        query = {**({param: day.isoformat()} if day else {}), **kept}
        return "?" + urlencode(query) if query else "?"

    today = clinic_today()
    return {
        "form": form,
        "days": days,
        "today": today,
        "first": first,
        "last": last,
        "prev_url": link(first - dt.timedelta(days=step)),
        "next_url": link(first + dt.timedelta(days=step)),
        "today_url": link(None),
        "filtered": bool(kept),
        "kept_query": urlencode(kept),
        "sessions": sum(len(d.sessions) for d in days),
    }


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def week_view(request: HttpRequest) -> HttpResponse:
    first = week_start(_date_param(request, "week", clinic_today()))
    context = _calendar_context(request, first, first + dt.timedelta(days=6), "week", 7)
    return render(request, "scheduling/calendar/week.html", context)


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def day_view(request: HttpRequest) -> HttpResponse:
    day = _date_param(request, "date", clinic_today())
    context = _calendar_context(request, day, day, "date", 1)
    context["day"] = context["days"][0]
    return render(request, "scheduling/calendar/day.html", context)


# --- one session ---------------------------------------------------------------------------------------
def _to_occurrence(occurrence: Occurrence) -> HttpResponse:
    return redirect(clinic_reverse("scheduling:occurrence", occurrence_id=occurrence.pk))


def _occurrence_context(request: HttpRequest, occurrence: Occurrence, **extra) -> dict:
    may_book = request.membership.allows(Perm.SCHEDULE_BOOK)
    return {
        "occurrence": occurrence,
        "when": when(occurrence),
        "roster": calendar.roster(occurrence),
        "may_book": may_book,
        "may_manage": request.membership.allows(Perm.SCHEDULE_MANAGE),
        "may_record": request.membership.allows(Perm.ATTENDANCE_RECORD),
        "is_open": occurrence.status == Occurrence.Status.SCHEDULED,
        "full": occurrence.n_booked >= occurrence.capacity,
        **extra,
    }


def _book_context(occurrence: Occurrence, search: str) -> dict:
    candidates = calendar.booking_candidates(occurrence, search)
    return {
        "candidates": candidates,
        "book_form": BookForm(occurrence=occurrence, offered=candidates.patients),
    }


def _audit_roster(request: HttpRequest, occurrence: Occurrence, context: dict, page: str) -> None:
    """Everyone the page names: the roster, and the patients the booking list offers."""
    items = [
        {"obj": occurrence, "patient": b.patient_id, "detail": {"view": page}}
        for rows in context["roster"].values()
        for b in rows
    ]
    form = context.get("book_form")
    for patient in form.offered if form is not None else ():
        items.append({"obj": occurrence, "patient": patient.pk, "detail": {"view": "booking list"}})
    audit_many(
        actor=request.user, action=VIEW, items=items or [{"obj": occurrence, "detail": {"view": page}}]
    )


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def occurrence_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    occurrence = calendar.occurrence_detail(occurrence_id)
    context = _occurrence_context(request, occurrence)
    if context["may_book"] and context["is_open"]:
        context.update(_book_context(occurrence, request.GET.get("find", "")))
    _audit_roster(request, occurrence, context, "session roster")
    return render(request, "scheduling/calendar/occurrence.html", context)


def _default_level(patient) -> str | None:
    enrolment = calendar.open_enrolment(patient)
    return enrolment.program.level if enrolment else None


def _book(request: HttpRequest, form: Form, occurrence: Occurrence, patient) -> tuple[Booking | None, object]:
    """Book after the authorization outlook: returns (booking, outlook); no booking while a warning is
    not confirmed (the form then shows it with a "book anyway" button)."""
    outlook = authorizations.booking_outlook(
        patient=patient, occurrences=[occurrence], today=clinic_today(), default_level=_default_level(patient)
    )
    if not outlook.confirmed_by(form.cleaned_data.get("confirm")):
        if form.cleaned_data.get("confirm"):
            form.add_error(None, "The authorization picture changed since you confirmed: check it again.")
        return None, outlook
    try:
        booking = services.booking_add(actor=request.user, occurrence=occurrence, patient=patient)
    except ValidationError as error:
        apply_errors(form, error)
        return None, outlook
    return booking, outlook


def _booked_message(booking: Booking) -> str:
    name = booking.patient.display_name
    if booking.status == Booking.Status.WAITLISTED:
        return f"The session is full: {name} is on the waitlist and takes the first place that opens."
    return f"{name} is booked."


@require_perm(Perm.SCHEDULE_BOOK)
@require_http_methods(GET_POST)
def occurrence_book_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    occurrence = calendar.occurrence_detail(occurrence_id)
    candidates = calendar.booking_candidates(occurrence, request.GET.get("find", ""))
    form = BookForm(
        request.POST if request.method == "POST" else None, occurrence=occurrence, offered=candidates.patients
    )
    outlook = None
    if request.method == "POST" and form.is_valid():
        booking, outlook = _book(request, form, occurrence, form.cleaned_data["patient"])
        if booking is not None:
            messages.success(request, _booked_message(booking))
            return _to_occurrence(occurrence)
    context = _occurrence_context(request, occurrence, book_form=form, outlook=outlook, candidates=candidates)
    _audit_roster(request, occurrence, context, "book into session")
    status = 200 if outlook and outlook.warnings and not form.errors else _status(form)
    return render(request, "scheduling/calendar/occurrence.html", context, status=status)


@require_perm(Perm.SCHEDULE_BOOK)
@require_http_methods(GET_POST)
def booking_cancel_view(request: HttpRequest, booking_id) -> HttpResponse:
    booking = selectors.booking_get(booking_id)
    occurrence = calendar.occurrence_detail(booking.occurrence_id)
    # Back to where the cancel was asked from: the patient's schedule or (by default) the session.
    back_to_patient = (request.POST.get("next") or request.GET.get("next")) == "patient"
    form = BookingCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if booking.status == Booking.Status.CANCELLED:
            form.add_error(None, "This booking is already cancelled.")
        else:
            try:
                promoted = services.booking_cancel(
                    actor=request.user, booking=booking, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                message = f"{booking.patient.display_name} is no longer in {occurrence.title}."
                if promoted is not None:
                    message += f" {promoted.patient.display_name} moved from the waitlist into the place."
                messages.success(request, message)
                return _to_patient(booking.patient) if back_to_patient else _to_occurrence(occurrence)
    if request.method == "GET":
        audit(
            actor=request.user,
            action=VIEW,
            obj=booking,
            patient=booking.patient_id,
            detail={"view": "cancel"},
        )
    context = {
        "form": form,
        "booking": booking,
        "occurrence": occurrence,
        "when": when(occurrence),
        "next": "patient" if back_to_patient else "",
        "patient": booking.patient if back_to_patient else None,
    }
    return render(request, "scheduling/calendar/booking_cancel.html", context, status=_status(form))


def _aware(day: dt.date, time: dt.time, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=ZoneInfo(zone))


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def occurrence_move_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    occurrence = calendar.occurrence_detail(occurrence_id)
    today = clinic_today()
    initial = {
        "date": occurrence.local_date,
        "time": timezone.localtime(occurrence.starts_at).time(),
        "minutes": occurrence.minutes,
        "room": occurrence.room_id,
    }
    form = MoveForm(request.POST if request.method == "POST" else None, initial=initial, today=today)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.occurrence_move(
                actor=request.user,
                occurrence=occurrence,
                starts_at=_aware(data["date"], data["time"], request.clinic.timezone),
                minutes=data["minutes"],
                room=data["room"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            moved = calendar.occurrence_detail(occurrence.pk)
            messages.success(request, f"{moved.title} is now on {when(moved)}.")
            return _to_occurrence(moved)
    context = {"form": form, "occurrence": occurrence, "when": when(occurrence)}
    return render(request, "scheduling/calendar/move.html", context, status=_status(form))


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def occurrence_cancel_view(request: HttpRequest, occurrence_id) -> HttpResponse:
    occurrence = calendar.occurrence_detail(occurrence_id)
    form = OccurrenceCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.occurrence_cancel(
                actor=request.user, occurrence=occurrence, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{occurrence.title} on {when(occurrence)} is cancelled.")
            return _to_occurrence(occurrence)
    context = {"form": form, "occurrence": occurrence, "when": when(occurrence)}
    return render(request, "scheduling/calendar/occurrence_cancel.html", context, status=_status(form))


# --- a patient's schedule ------------------------------------------------------------------------------
def _to_patient(patient) -> HttpResponse:
    return redirect(clinic_reverse("scheduling:patient-schedule", patient_id=patient.pk))


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def patient_schedule_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    today = clinic_today()
    schedule = calendar.patient_schedule(patient, today)
    _audit_patient(request, patient, "schedule", upcoming=len(schedule.upcoming), past=len(schedule.past))
    context = {
        "patient": patient,
        "schedule": schedule,
        "today": today,
        "may_book": request.membership.allows(Perm.SCHEDULE_BOOK),
        "may_manage": request.membership.allows(Perm.SCHEDULE_MANAGE),
    }
    return render(request, "scheduling/calendar/patient.html", context)


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def patient_panel_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    today = clinic_today()
    schedule = calendar.patient_schedule(patient, today)
    _audit_patient(request, patient, "schedule panel")
    context = {
        "patient": patient,
        "schedule": schedule,
        "upcoming": schedule.upcoming[:PANEL_UPCOMING],
        "today": today,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "scheduling/calendar/_panel.html", context)
    return render(request, "scheduling/calendar/panel_page.html", context)


@require_perm(Perm.SCHEDULE_BOOK)
@require_http_methods(GET_POST)
def patient_enrol_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    today = clinic_today()
    current = calendar.open_enrolment(patient)
    form = EnrolForm(
        request.POST if request.method == "POST" else None, initial={"starts_on": today}, today=today
    )
    outlook = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        program, chosen = data["program"], list(data["series"]) or None
        outlook = authorizations.enrolment_outlook(
            patient=patient, program=program, series=chosen, starts_on=data["starts_on"], today=today
        )
        if not outlook.confirmed_by(data.get("confirm")):
            if data.get("confirm"):
                form.add_error(None, "The authorization picture changed since you confirmed: check it again.")
        else:
            try:
                enrolment = services.enrolment_create(
                    actor=request.user,
                    patient=patient,
                    program=program,
                    starts_on=data["starts_on"],
                    planned_step_down_on=data["planned_step_down_on"],
                    series=chosen,
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                waiting = calendar.waitlisted_count(enrolment)
                message = f"{patient.display_name} is enrolled in {program.name} from {data['starts_on']:%b} "
                message += f"{data['starts_on'].day}."
                if waiting:
                    message += f" {waiting} full session{'s' if waiting != 1 else ''}: on the waitlist there."
                messages.success(request, message)
                return _to_patient(patient)
    if request.method == "GET":
        _audit_patient(request, patient, "enrol")
    context = {"form": form, "patient": patient, "current": current, "outlook": outlook}
    status = 200 if outlook and outlook.warnings and not form.errors else _status(form)
    return render(request, "scheduling/calendar/enrol.html", context, status=status)


@require_perm(Perm.SCHEDULE_BOOK)
@require_http_methods(GET_POST)
def enrolment_end_view(request: HttpRequest, enrolment_id) -> HttpResponse:
    enrolment = calendar.enrolment_get(enrolment_id)
    patient = enrolment.patient
    form = EnrolmentEndForm(
        request.POST if request.method == "POST" else None, initial={"ended_on": clinic_today()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.enrolment_end(
                actor=request.user,
                enrolment=enrolment,
                ended_on=form.cleaned_data["ended_on"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"{patient.display_name}'s enrolment in {enrolment.program.name} has ended."
            )
            return _to_patient(patient)
    if request.method == "GET":
        audit(
            actor=request.user, action=VIEW, obj=enrolment, patient=patient, detail={"view": "end enrolment"}
        )
    context = {"form": form, "patient": patient, "enrolment": enrolment}
    return render(request, "scheduling/calendar/enrolment_end.html", context, status=_status(form))


@require_perm(Perm.SCHEDULE_BOOK)
@require_http_methods(GET_POST)
def patient_book_view(request: HttpRequest, patient_id) -> HttpResponse:
    patient = patient_get(patient_id=patient_id)
    today = clinic_today()
    form = PatientBookForm(request.POST if request.method == "POST" else None, patient=patient, today=today)
    outlook = None
    if request.method == "POST" and form.is_valid():
        occurrence = form.cleaned_data["occurrence"]
        occurrence = calendar.occurrence_detail(occurrence.pk)
        booking, outlook = _book(request, form, occurrence, patient)
        if booking is not None:
            messages.success(request, f"{_booked_message(booking)} {occurrence.title}, {when(occurrence)}.")
            return _to_patient(patient)
    if request.method == "GET":
        _audit_patient(request, patient, "book a session")
    context = {"form": form, "patient": patient, "outlook": outlook}
    status = 200 if outlook and outlook.warnings and not form.errors else _status(form)
    return render(request, "scheduling/calendar/patient_book.html", context, status=status)


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def patient_session_new_view(request: HttpRequest, patient_id) -> HttpResponse:
    """A new one-off session for this patient (scheduling.services.occurrence_create books them in)."""
    patient = patient_get(patient_id=patient_id)
    today = clinic_today()
    services.session_types_ensure()  # a new clinic gets its default session types the first time
    form = NewSessionForm(
        request.POST if request.method == "POST" else None,
        initial={"date": today, "facilitator": request.user.pk},
        today=today,
    )
    outlook = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = data["session_type"]
        starts_at = _aware(data["date"], data["time"], request.clinic.timezone)
        outlook = authorizations.new_session_outlook(
            patient=patient, session_type=kind, starts_at=starts_at, local_date=data["date"], today=today
        )
        if not outlook.confirmed_by(data.get("confirm")):
            if data.get("confirm"):
                form.add_error(None, "The authorization picture changed since you confirmed: check it again.")
        else:
            try:
                occurrence = services.occurrence_create(
                    actor=request.user,
                    session_type=kind,
                    facilitator=data["facilitator"],
                    starts_at=starts_at,
                    minutes=data["minutes"] or kind.default_minutes,
                    room=data["room"],
                    patient=patient,
                )
            except ValidationError as error:
                apply_errors(
                    form, error, field_for=lambda field, _: "date" if field == "starts_at" else field
                )
            else:
                messages.success(
                    request,
                    f"{occurrence.title} with {patient.display_name} on {when(occurrence)} is booked.",
                )
                return _to_patient(patient)
    if request.method == "GET":
        _audit_patient(request, patient, "new session")
    context = {"form": form, "patient": patient, "outlook": outlook}
    status = 200 if outlook and outlook.warnings and not form.errors else _status(form)
    return render(request, "scheduling/calendar/session_new.html", context, status=status)
