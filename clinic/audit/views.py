"""The audit report page and its CSV export (clinic admins and auditors). Both are themselves audited."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from clinic.audit import exports
from clinic.audit.forms import AuditFilterForm
from clinic.audit.models import AuditEvent
from clinic.audit.selectors import Position, audit_events, event_page, patient_mrns
from clinic.audit.services import audit
from clinic.tenancy.access import require_perm
from clinic.tenancy.roles import Perm
from clinic.tenancy.urls_helpers import clinic_reverse

PAGE_SIZE = 50
_PAGING_PARAMS = ("before", "after")


def _filter_form(request: HttpRequest) -> AuditFilterForm:
    query = request.GET.copy()
    for name in _PAGING_PARAMS:
        query.pop(name, None)
    return AuditFilterForm(query, timezone_name=request.clinic.timezone)


def _filter_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    for name in _PAGING_PARAMS:
        query.pop(name, None)
    return query.urlencode()


@require_perm(Perm.AUDIT_VIEW)
def audit_report_view(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    page = None
    if form.is_valid():
        page = event_page(
            audit_events(form.filters()),
            before=Position.parse(request.GET.get("before")),
            after=Position.parse(request.GET.get("after")),
            size=PAGE_SIZE,
        )
        # Recorded after the read, so the page does not list its own viewing.
        audit(
            actor=request.user,
            action=AuditEvent.Action.LIST,
            object_type="audit.auditevent",
            detail={"filters": form.applied(), "shown": len(page.events)},
        )
        mrns = patient_mrns({event.patient_id for event in page.events if event.patient_id})
        for event in page.events:
            event.patient_mrn = mrns.get(event.patient_id)
    context = {
        "form": form,
        "page": page,
        "filter_query": _filter_query(request),
        "export_limit": exports.EXPORT_ROW_LIMIT,
    }
    return render(request, "audit/report.html", context)


@require_perm(Perm.AUDIT_VIEW)
def audit_export_view(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    back = clinic_reverse("audit:report") + "?" + _filter_query(request)
    if not form.is_valid():
        messages.error(request, "Fix the filters before exporting.")
        return redirect(back)
    events = audit_events(form.filters())
    limit = exports.EXPORT_ROW_LIMIT
    if events[: limit + 1].count() > limit:
        messages.error(
            request,
            f"More than {limit:,} events match these filters. "
            "Narrow the dates or other filters and export again.",
        )
        return redirect(back)
    # Written out in full here, inside the request's transaction and clinic; the response only sends the file.
    spool, rows = exports.write_csv(events, timezone_name=request.clinic.timezone)
    audit(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        object_type="audit.auditevent",
        detail={"format": "csv", "rows": rows, "filters": form.applied()},
    )
    stamp = timezone.localtime(timezone=ZoneInfo(request.clinic.timezone)).strftime("%Y%m%d-%H%M%S")
    filename = f"audit-{request.clinic.slug}-{stamp}.csv"
    return FileResponse(spool, as_attachment=True, filename=filename, content_type="text/csv; charset=utf-8")
