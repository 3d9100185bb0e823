"""Every date on a taper plan page and in its PDFs carries the year ("Tue Jan 1, 2999" / "Jan 1, 2999"):
a plan in another year must never read "first step Tue Jan 1" (the issue: a plan starting Jan 1, 2999)."""

from __future__ import annotations

import datetime
import html
import re
import zoneinfo

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.tenancy.context import clinic_today, tenant_context
from taper import dates, documents, services
from taper.models import TaperPlan
from tests.conftest import client_for
from tests.pdf_checks import pdf_text
from tests.taper.plans.progress_support import D, active_plan, record_doses, today_in
from tests.taper.plans.progress_support import url as progress_url
from tests.taper.plans.views_support import builder_body, make_plan, url

pytestmark = pytest.mark.django_db
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
# "Jan 1" / "January 1" without ", 2999" after it; "1 Jan" without " 2999" (nor a day: "1 Jan 5, ...").
YEARLESS = re.compile(rf"\b{MONTH} \d{{1,2}}\b(?!,? \d{{4}})|\b\d{{1,2}} {MONTH}(?! \d)")


def visible_text(markup: str) -> str:
    """The words of a page. Charts (SVG, drawn by clinic.charts: axis ticks, not this module's dates) and
    scripts/styles are left out."""
    markup = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", markup, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return visible_text(response.content.decode())


def assert_every_date_has_its_year(text: str, where: str) -> None:
    bare = [text[max(0, m.start() - 40) : m.end() + 20] for m in YEARLESS.finditer(text)]
    assert not bare, f"{where}: dates without a year: {bare}"


def document_texts(clinic, plan: TaperPlan) -> dict[str, str]:
    """The HTML each PDF is made from, as words: every date in it, wherever WeasyPrint wraps a table cell
    (pdftotext reads wrapped cells of a two-column table interleaved)."""
    with tenant_context(clinic), timezone.override(zoneinfo.ZoneInfo(clinic.timezone)):
        today = clinic_today()
        calendar = documents.calendar_context(plan, clinic=clinic, printed_on=today)
        summary = documents.summary_context(plan, clinic=clinic, today=today, printed_by="Test")
        return {
            "calendar PDF": visible_text(render_to_string("pdf/taper_calendar.html", calendar)),
            "summary PDF": visible_text(render_to_string("pdf/taper_summary.html", summary)),
        }


def start_in_another_year(clinic) -> datetime.date:
    """Next New Year's Day when a plan may start then (the builder refuses starts far ahead), else
    tomorrow: either way the schedule (well over a year long) runs into a year other than today's."""
    today = today_in(clinic)
    new_year = datetime.date(today.year + 1, 1, 1)
    return new_year if (new_year - today).days <= 150 else today + D(days=1)


def test_plan_in_another_year_shows_the_year_on_the_page_and_in_both_pdfs(
    clinic_a, patient_a, psychiatrist, nurse
):
    start = start_in_another_year(clinic_a)
    plan = make_plan(clinic_a, patient_a, psychiatrist, status="approved", start_date=start)
    end = plan.current_version.end_date
    assert end.year > today_in(clinic_a).year
    first_row = f"{dates.long_date(start)} to {dates.long_date(start + D(days=13))}"  # 14-day steps
    client = client_for(psychiatrist)

    page = page_text(client.get(url(clinic_a, f"plans/{plan.pk}/")))
    assert f"first step {dates.long_date(start)}" in page  # the banner ("first step Tue Jan 1")
    assert first_row in page  # the schedule's first row, both ends
    assert f"Last dose stops {dates.short_date(end)}" in page  # the end date (version summary)
    assert_every_date_has_its_year(page, "plan page")

    calendar = pdf_text(client.get(url(clinic_a, f"plans/{plan.pk}/calendar.pdf")).content)
    assert f"Avery Alder · {dates.short_date(start)} to " in calendar  # the calendar's span
    assert first_row in calendar  # the first step, start and end
    assert f"{start:%B %Y}" in calendar  # month grids are titled with the year

    summary = pdf_text(client.get(url(clinic_a, f"plans/{plan.pk}/summary.pdf")).content)
    assert f"from {dates.short_date(start)}" in summary  # the version's start
    assert f"final step {dates.short_date(end)}" in summary  # the end

    for where, text in document_texts(clinic_a, plan).items():
        assert_every_date_has_its_year(text, where)
    assert dates.short_date(end) in document_texts(clinic_a, plan)["calendar PDF"]

    preview = client_for(nurse).post(
        url(clinic_a, f"patients/{patient_a.pk}/preview/"), builder_body(start_date=start.isoformat())
    )
    preview_text = page_text(preview)
    assert first_row in preview_text
    assert_every_date_has_its_year(preview_text, "builder preview")


def test_active_held_plan_pages_show_no_date_without_its_year(clinic_a, patient_a, psychiatrist, nurse):
    plan = active_plan(clinic_a, patient_a, psychiatrist, days_ago=30)
    record_doses(clinic_a, plan, nurse, [3, 2, 1])
    today = today_in(clinic_a)
    held_from = today - D(days=1)
    with tenant_context(clinic_a):
        services.plan_hold(
            actor=psychiatrist,
            plan=plan,
            from_date=held_from,
            days=None,
            reason="Symptoms",
            today=held_from,
        )
        plan.refresh_from_db()
    client = client_for(psychiatrist)
    pages = {
        "plan page": url(clinic_a, f"plans/{plan.pk}/"),
        "version page": url(clinic_a, f"versions/{plan.current_version_id}/"),
        "plans list": url(clinic_a, f"patients/{patient_a.pk}/plans/"),
        "patient panel": url(clinic_a, f"patients/{patient_a.pk}/panel/"),
        "progress page": progress_url(clinic_a, "progress", plan),
        "review queue": progress_url(clinic_a, "review"),
        "resume page": url(clinic_a, f"plans/{plan.pk}/resume/"),
        "hold page (not available)": url(clinic_a, f"plans/{plan.pk}/hold/"),
    }
    texts = {where: page_text(client.get(address)) for where, address in pages.items()}
    assert f"Held since {dates.long_date(held_from)}" in texts["plan page"]
    assert f"held since {dates.short_date(held_from)}" in texts["hold page (not available)"]
    assert f"Today ({dates.long_date(today)})" in texts["progress page"]
    assert f"Held since {dates.short_date(held_from)}" in texts["review queue"]
    texts.update(document_texts(clinic_a, plan))
    for where, text in texts.items():
        assert_every_date_has_its_year(text, where)

    recorded = client_for(nurse).post(
        progress_url(clinic_a, "dose", plan),
        {"day": today.isoformat(), "action": "as_planned", "where": "progress"},
        HTTP_HX_REQUEST="true",
    )
    text = page_text(recorded)
    assert f"Recorded for {dates.long_date(today)}" in text
    assert_every_date_has_its_year(text, "dose recorded")
