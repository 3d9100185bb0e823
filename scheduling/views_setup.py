"""Browser views for setting up the schedule: programs (with their level's weekly hours), rooms, session
types, session series (create, "change this and following", end) and facilitators' weekly availability.

Thin: the forms parse, scheduling.services / scheduling.availability decide and write (and audit),
scheduling.selectors_setup reads. Anyone who may see the schedule sees these pages; changing them takes
SCHEDULE_MANAGE. A refused write (a clash, a facilitator who may not run the session, hours outside the
level) comes back on the form, with nothing written.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit.models import AuditEvent
from clinic.audit.services import audit_many
from clinic.forms import apply_errors
from clinic.tenancy.access import require_perm
from clinic.tenancy.context import clinic_today
from clinic.tenancy.roles import Perm, role_labels
from clinic.tenancy.urls_helpers import clinic_reverse
from scheduling import availability, levels, selectors_setup, services
from scheduling.forms_setup import (
    AvailabilityForm,
    ProgramForm,
    RoomForm,
    SeriesEndForm,
    SeriesFollowingForm,
    SeriesForm,
    program_initial,
)
from scheduling.models import Program, Room, SessionSeries, SessionType

GET_POST = ["GET", "POST"]


def _status(*forms: Form) -> int:
    return 400 if any(f.is_bound and f.errors for f in forms) else 200


def _level_rows() -> list[levels.LevelHours]:
    return [ref for (level, audience), ref in levels.table().items() if audience == "adult"]


def _level_starts() -> list[tuple[levels.LevelHours, levels.LevelHours]]:
    """Each level's hours for adults and for adolescents: the shortcuts on a new program's form."""
    table = levels.table()
    return [(ref, table[(ref.level, "adolescent")]) for ref in _level_rows()]


# --- the landing page ------------------------------------------------------------------------------------
@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def setup_view(request: HttpRequest) -> HttpResponse:
    today = clinic_today()
    running = SessionSeries.objects.exclude(ends_on__lt=today)
    context = {
        "programs": Program.objects.filter(is_active=True).count(),
        "rooms": Room.objects.filter(is_active=True).count(),
        "session_types": SessionType.objects.filter(is_active=True).count(),
        "series": running.count(),
    }
    return render(request, "scheduling/setup/index.html", context)


# --- programs --------------------------------------------------------------------------------------------
@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def program_list_view(request: HttpRequest) -> HttpResponse:
    rows = [(p, levels.describe_range(p.hours_min, p.hours_below)) for p in selectors_setup.programs()]
    return render(request, "scheduling/setup/programs.html", {"rows": rows, "levels": _level_rows()})


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def program_new_view(request: HttpRequest) -> HttpResponse:
    initial = program_initial(request.GET.get("level", "iop"), request.GET.get("audience", "adult"))
    form = ProgramForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_save(actor=request.user, fields=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{program.name} added: {_hours(program)}.")
            return redirect(clinic_reverse("scheduling:program-list"))
    context = {"form": form, "program": None, "starts": _level_starts(), "chosen": initial}
    return render(request, "scheduling/setup/program_form.html", context, status=_status(form))


def _hours(program: Program) -> str:
    return levels.describe_range(program.hours_min, program.hours_below)


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def program_edit_view(request: HttpRequest, program_id) -> HttpResponse:
    program = get_object_or_404(Program, pk=program_id)
    form = ProgramForm(request.POST if request.method == "POST" else None, instance=program)
    if request.method == "POST" and form.is_valid():
        try:
            # A fresh row for the service: a refusal leaves the page's `program` as stored.
            saved = services.program_save(
                actor=request.user, fields=form.cleaned_data, program=Program.objects.get(pk=program.pk)
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{saved.name} saved: {_hours(saved)}.")
            return redirect(clinic_reverse("scheduling:program-list"))
    context = {"form": form, "program": program, "levels": _level_rows(), "hours": _hours(program)}
    return render(request, "scheduling/setup/program_form.html", context, status=_status(form))


# --- rooms -----------------------------------------------------------------------------------------------
@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def room_list_view(request: HttpRequest) -> HttpResponse:
    return render(request, "scheduling/setup/rooms.html", {"rooms": list(selectors_setup.rooms())})


def _room_form_page(request: HttpRequest, room: Room | None) -> HttpResponse:
    form = RoomForm(request.POST if request.method == "POST" else None, instance=room)
    if request.method == "POST" and form.is_valid():
        try:
            fresh = Room.objects.get(pk=room.pk) if room is not None else None
            saved = services.room_save(actor=request.user, fields=form.cleaned_data, room=fresh)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{saved.name} {'saved' if room else 'added'}.")
            return redirect(clinic_reverse("scheduling:room-list"))
    return render(
        request, "scheduling/setup/room_form.html", {"form": form, "room": room}, status=_status(form)
    )


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def room_new_view(request: HttpRequest) -> HttpResponse:
    return _room_form_page(request, None)


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def room_edit_view(request: HttpRequest, room_id) -> HttpResponse:
    return _room_form_page(request, get_object_or_404(Room, pk=room_id))


# --- session types ---------------------------------------------------------------------------------------
@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def session_type_list_view(request: HttpRequest) -> HttpResponse:
    # The first visit installs the clinic's starting set (scheduling/data/session_types.json).
    rows = [(t, role_labels(t.facilitator_roles)) for t in services.session_types_ensure()]
    return render(request, "scheduling/setup/session_types.html", {"rows": rows})


# --- series ----------------------------------------------------------------------------------------------
@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def series_list_view(request: HttpRequest) -> HttpResponse:
    include_ended = request.GET.get("ended") == "1"
    rows = selectors_setup.series_rows(include_ended=include_ended)
    for row in rows:
        row.when_label = when_label(row)
    context = {"groups": selectors_setup.group_by_program(rows), "count": len(rows), "ended": include_ended}
    return render(request, "scheduling/setup/series_list.html", context)


def when_label(series: SessionSeries) -> str:
    """ "Mon, Wed, Fri at 10 AM, 90 min" (every 2 weeks: said so)."""
    days = ", ".join(availability.WEEKDAYS[d][:3] for d in series.weekdays)
    every = f", every {series.interval} weeks" if series.interval > 1 else ""
    return f"{days} at {availability.clock(series.start_time)}, {series.minutes} min{every}"


def _staff() -> dict:
    """Who the forms offer as facilitators: staff whose roles may run one of the clinic's session types."""
    services.session_types_ensure()  # the first visit installs them; the roles come from them
    return {"staff": selectors_setup.staff_users(), "memberships": selectors_setup.staff_memberships()}


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def series_new_view(request: HttpRequest) -> HttpResponse:
    initial = {"starts_on": clinic_today(), "interval": "1"}
    form = SeriesForm(request.POST if request.method == "POST" else None, initial=initial, **_staff())
    if request.method == "POST" and form.is_valid():
        try:
            series = services.series_create(actor=request.user, fields=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{series.title} is on the schedule.")
            return redirect(clinic_reverse("scheduling:series", series_id=series.pk))
    return render(request, "scheduling/setup/series_form.html", {"form": form}, status=_status(form))


def _following_form(
    request: HttpRequest, series: SessionSeries, *, bound: bool = True
) -> SeriesFollowingForm:
    initial = {
        "from_date": max(clinic_today(), series.starts_on),
        "start_time": series.start_time,
        "minutes": series.minutes,
        "room": series.room_id,
        "facilitator": series.facilitator_id,
    }
    data = request.POST if bound and request.method == "POST" else None
    return SeriesFollowingForm(data, initial=initial, series=series, **_staff())


def _end_form(request: HttpRequest, *, bound: bool = True) -> SeriesEndForm:
    data = request.POST if bound and request.method == "POST" else None
    return SeriesEndForm(data, initial={"last_day": clinic_today()})


def _continuation(series: SessionSeries) -> SessionSeries | None:
    try:
        return series.next
    except ObjectDoesNotExist:
        return None


def _continued_message(continuation: SessionSeries) -> str:
    # A series splits once: later changes go on the part that carries on (which holds the roster too).
    return (
        f"From {continuation.starts_on:%b %-d} this series carries on as changed; make further changes "
        "on that page."
    )


def _series_page(
    request: HttpRequest, series: SessionSeries, *, following=None, end=None, focus: str = ""
) -> HttpResponse:
    members = selectors_setup.series_members(series)
    # The roster names patients: record who saw it.
    audit_many(
        actor=request.user,
        action=AuditEvent.Action.LIST,
        items=[
            {
                "object_type": "patients.patient",
                "object_id": str(member.patient_id),
                "patient": member.patient_id,
                "detail": {"view": "series roster", "series": str(series.pk)},
            }
            for member in members
        ],
    )
    continuation = _continuation(series)
    following = following or _following_form(request, series, bound=False)
    end = end or _end_form(request, bound=False)
    context = {
        "series": series,
        "continuation": continuation,
        "upcoming": selectors_setup.series_upcoming(series),
        "members": members,
        "when": when_label(series),
        "following_form": following,
        "end_form": end,
        "ended": series.ends_on is not None and series.ends_on < clinic_today(),
        "focus": focus,
    }
    return render(request, "scheduling/setup/series_detail.html", context, status=_status(following, end))


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def series_detail_view(request: HttpRequest, series_id) -> HttpResponse:
    return _series_page(request, selectors_setup.series_get(series_id))


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def series_following_view(request: HttpRequest, series_id) -> HttpResponse:
    series = selectors_setup.series_get(series_id)
    form = _following_form(request, series)
    continuation = _continuation(series)
    if request.method == "POST" and form.is_valid() and continuation is not None:
        form.add_error(None, _continued_message(continuation))
    elif request.method == "POST" and form.is_valid():
        try:
            target = services.series_update_following(
                actor=request.user,
                series=series,
                from_date=form.cleaned_data["from_date"],
                fields=form.changes(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{target.title} changed from {form.cleaned_data['from_date']:%b %-d}.")
            return redirect(clinic_reverse("scheduling:series", series_id=target.pk))
        series = selectors_setup.series_get(series_id)
    return _series_page(request, series, following=form, focus="following")


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def series_end_view(request: HttpRequest, series_id) -> HttpResponse:
    series = selectors_setup.series_get(series_id)
    form = _end_form(request)
    continuation = _continuation(series)
    if request.method == "POST" and form.is_valid() and continuation is not None:
        form.add_error(None, _continued_message(continuation))
    elif request.method == "POST" and form.is_valid():
        try:
            ended = services.series_end(
                actor=request.user, series=series, last_day=form.cleaned_data["last_day"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{ended.title} ends after {ended.ends_on:%a %b %-d, %Y}.")
            return redirect(clinic_reverse("scheduling:series", series_id=ended.pk))
        series = selectors_setup.series_get(series_id)
    return _series_page(request, series, end=form, focus="end")


# --- availability ----------------------------------------------------------------------------------------
def _availability_page(request: HttpRequest, form: AvailabilityForm | None = None) -> HttpResponse:
    form = form or AvailabilityForm(initial={"weekday": "0"}, **_staff())
    rows = [
        (membership, role_labels(membership.roles), [(w, availability.window_label(w)) for w in windows])
        for membership, windows in selectors_setup.availability_by_staff()
    ]
    context = {"form": form, "rows": rows}
    return render(request, "scheduling/setup/availability.html", context, status=_status(form))


@require_perm(Perm.SCHEDULE_VIEW)
@require_GET
def availability_view(request: HttpRequest) -> HttpResponse:
    return _availability_page(request)


@require_perm(Perm.SCHEDULE_MANAGE)
@require_POST
def availability_add_view(request: HttpRequest) -> HttpResponse:
    form = AvailabilityForm(request.POST, **_staff())
    if form.is_valid():
        try:
            window = availability.availability_add(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"{window.staff.display_name}: {availability.window_label(window)} added."
            )
            return redirect(clinic_reverse("scheduling:availability") + f"#staff-{window.staff_id}")
    return _availability_page(request, form)


@require_perm(Perm.SCHEDULE_MANAGE)
@require_http_methods(GET_POST)
def availability_remove_view(request: HttpRequest, availability_id) -> HttpResponse:
    window = selectors_setup.availability_get(availability_id)
    label = availability.window_label(window)
    if request.method == "POST":
        availability.availability_remove(actor=request.user, window=window)
        messages.success(request, f"{window.staff.display_name}: {label} removed.")
        return redirect(clinic_reverse("scheduling:availability") + f"#staff-{window.staff_id}")
    return render(request, "scheduling/setup/availability_remove.html", {"window": window, "label": label})
