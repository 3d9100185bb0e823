"""Taper documents in a real browser: from an active plan's page a nurse opens the patient calendar and the
clinical summary (each PDF's first page turned into an image and checked not blank), then sends the summary
to a prescriber — refused while no consent names them, recorded and downloadable once one does."""

from __future__ import annotations

import datetime
import hashlib
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.consent.models import Disclosure
from taper import services
from tests.conftest import PASSWORD, make_clinic, make_member, make_patient
from tests.dates import clinic_date
from tests.patients.consent.factories import consent_in, recipient_in
from tests.pdf_checks import pdf_pages_as_images
from tests.taper.documents.conftest import plan_input
from tests.taper.factories import create_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def first_page_image(content: bytes) -> Image.Image:
    assert content.startswith(b"%PDF")
    return pdf_pages_as_images(content, dpi=60)[0]


def pdf_text(content: bytes) -> str:
    done = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


def white_fraction(image: Image.Image) -> float:
    histogram = image.convert("L").histogram()
    return sum(histogram[250:]) / (image.width * image.height)


def test_nurse_prints_both_pdfs_and_sends_the_summary(page, artifacts_dir):
    clinic = make_clinic("taper-docs", name="Juniper Clinic")
    psychiatrist = make_member(clinic, Role.PSYCHIATRIST, email="psych@juniper.example.org")
    nurse = make_member(clinic, Role.NURSE, email="nurse@juniper.example.org")
    patient = make_patient(clinic, first_name="Morgan", last_name="Reyes", mrn="SD-000777")
    start = clinic_date() - datetime.timedelta(days=20)
    with tenant_context(clinic):
        # Down to a maintenance dose: a few months of calendar, so the PDFs render quickly on a busy machine.
        data = plan_input(start_date=start, target_de_mg=Decimal(10))
        plan = create_plan(patient, psychiatrist, data, status="active")
        for offset in range(0, 10, 3):
            services.dose_record(
                actor=nurse,
                plan=plan,
                day=start + datetime.timedelta(days=offset),
                source="nurse",
                as_planned=True,
            )
    prescriber = recipient_in(clinic, name="Dr. Ellis Grant", fax="555-0142")

    page.set_default_timeout(120_000)  # PDFs are made on request; a loaded CI machine can take a while
    sign_in(page, nurse.email)
    page.wait_for_url(re.compile(r"/c/taper-docs/$"))
    page.goto(f"/c/taper-docs/taper/plans/{plan.pk}/")
    page.wait_for_load_state("networkidle")

    for link, name, words in (
        ("#print-calendar", "taper-calendar", "Do not change your dose"),
        ("#print-summary", "taper-summary", "Ashton"),
    ):
        href = page.locator(link).get_attribute("href")
        response = page.request.get(href, timeout=120_000)
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        content = response.body()
        image = first_page_image(content)
        image.save(artifacts_dir / f"{name}-page1.png")
        (artifacts_dir / f"{name}.pdf").write_bytes(content)
        assert white_fraction(image) < 0.99, f"{name}: the first page is (almost) blank"
        assert words in pdf_text(content)

    # Send the summary: no consent names Dr. Grant yet, so the gate refuses and nothing is recorded.
    page.locator("#send-summary").click()
    page.wait_for_url(re.compile(r"/summary/send/$"))
    assert "Stepdown does not fax or e-mail it" in page.locator("main").inner_text()
    page.get_by_label("Recipient").select_option(label="Dr. Ellis Grant (Prescriber)")
    page.get_by_label("Purpose").select_option("treatment")
    page.locator("#check-and-send").click()
    reasons = page.locator("#refusal-reasons")
    reasons.wait_for()
    assert "no consent on file" in reasons.inner_text()
    page.screenshot(path=str(artifacts_dir / "taper-summary-send-refused.png"), full_page=True)
    with tenant_context(clinic):
        assert Disclosure.objects.count() == 0

    # With the patient's consent for Dr. Grant (treatment, medication information) it goes through.
    consent_in(clinic, patient, recipients=[prescriber])
    page.get_by_label("Recipient").select_option(label="Dr. Ellis Grant (Prescriber)")
    page.get_by_label("Purpose").select_option("treatment")
    page.locator("#check-and-send").click()
    page.locator("#disclosure-recorded").wait_for()
    page.screenshot(path=str(artifacts_dir / "taper-summary-send-recorded.png"), full_page=True)
    with page.expect_download() as download_info:
        page.locator("#download-summary").click()
    content = Path(download_info.value.path()).read_bytes()
    assert white_fraction(first_page_image(content)) < 0.99
    with tenant_context(clinic):
        disclosure = Disclosure.objects.get()
        assert (
            disclosure.recipient == prescriber
            and disclosure.document_sha256 == hashlib.sha256(content).hexdigest()
        )
