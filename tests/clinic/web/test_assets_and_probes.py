"""Static assets served from the app (no CDN), patient pages' markup contracts, /healthz, the idle probe."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

from clinic.accounts.middleware import LAST_SEEN_KEY
from clinic.tenancy.roles import Role

ASSETS = [
    "stepdown/stepdown.css",
    "stepdown/stepdown.js",
    "stepdown/vendor/htmx.min.js",
    "stepdown/icons/stepdown.svg",
]


@pytest.mark.parametrize("path", ASSETS)
def test_asset_is_found_and_served(client, path):
    assert finders.find(path), f"{path} is not in any static folder"
    response = client.get(static(path))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert len(body) > 100


def test_vendored_htmx_is_the_pinned_release_with_its_licence():
    with open(finders.find("stepdown/vendor/htmx.min.js"), encoding="utf-8") as handle:
        source = handle.read()
    assert 'version:"2.0.11"' in source
    assert finders.find("stepdown/vendor/htmx.LICENSE.txt")


@pytest.mark.django_db
def test_pages_load_only_local_assets(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert static("stepdown/vendor/htmx.min.js") in sources and static("stepdown/stepdown.css") in sources
    assert all(src.startswith("/static/") for src in sources), sources
    assert '"X-CSRFToken"' in html  # htmx requests carry the CSRF token


# --- patient pages --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_patient_list_search_works_without_javascript_and_as_an_htmx_partial(
    client, clinic_a, staff_a, patient_a
):
    client.force_login(staff_a[Role.NURSE])
    url = reverse("patients:list", kwargs={"clinic_slug": clinic_a.slug})
    full = client.get(url, {"q": "Alder"}).content.decode()
    assert 'role="search"' in full and 'id="q"' in full and "data-search" in full
    assert "Alder, Avery" in full and "<html" in full
    partial = client.get(url, {"q": "Alder"}, headers={"HX-Request": "true"}).content.decode()
    assert "Alder, Avery" in partial and "<html" not in partial
    none = client.get(url, {"q": "Zzyzx"}, headers={"HX-Request": "true"}).content.decode()
    assert "No patients match" in none


@pytest.mark.django_db
def test_patient_form_errors_are_summarised_and_linked_to_fields(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    url = reverse("patients:create", kwargs={"clinic_slug": clinic_a.slug})
    response = client.post(url, {"first_name": "", "last_name": "x" * 300, "date_of_birth": "not a date"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="error-summary"' in html and "<title>Error:" in html
    for field in ("first_name", "last_name", "date_of_birth"):
        assert f'href="#id_{field}"' in html, field
        assert re.search(rf'<(?:input|select)[^>]*aria-invalid="true"[^>]*id="id_{field}"', html), field


@pytest.mark.django_db
def test_patient_detail_offers_copy_and_edit(client, clinic_a, staff_a, patient_a):
    client.force_login(staff_a[Role.NURSE])
    html = client.get(
        reverse("patients:detail", kwargs={"clinic_slug": clinic_a.slug, "patient_id": patient_a.pk})
    ).content.decode()
    assert f'data-copy="{patient_a.mrn}"' in html
    assert 'accesskey="e"' in html


# --- /healthz -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_healthz_reports_database_redis_and_worker_coherently(client):
    response = client.get(reverse("healthz"))
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body["checks"]) == {"database", "redis", "worker", "beat"}
    for check in body["checks"].values():
        assert isinstance(check["ok"], bool)
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    healthy = all(check["ok"] for check in body["checks"].values())
    # tests/clinic/jobs/test_healthz.py checks each degraded case and the start-up grace.
    assert (response.status_code, body["status"]) in (
        [(200, "ok")] if healthy else [(503, "degraded"), (200, "starting")]
    )


# --- idle sign-out probe ------------------------------------------------------------------------
@pytest.mark.django_db
def test_idle_probe_asks_without_counting_as_activity(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug}))
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 300
    session.save()
    response = client.get(reverse("session-idle"), headers={"X-Stepdown-Background": "1"})
    body = response.json()
    assert body["signed_in"] and body["timeout"] == 15 * 60
    assert 15 * 60 - 310 <= body["remaining"] <= 15 * 60 - 300
    assert client.session[LAST_SEEN_KEY] < time.time() - 299  # not renewed

    renewed = client.post(reverse("session-idle")).json()  # "Stay signed in"
    assert renewed["remaining"] >= 15 * 60 - 2


@pytest.mark.django_db
def test_idle_probe_for_an_anonymous_visitor(client):
    response = client.get(reverse("session-idle"))
    assert response.status_code == 401 and response.json() == {"signed_in": False, "remaining": 0}


@pytest.mark.django_db
def test_idle_probe_after_the_timeout_signs_out(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug}))
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 16 * 60
    session.save()
    response = client.get(reverse("session-idle"), headers={"X-Stepdown-Background": "1"})
    assert response.status_code == 302 and reverse("account_login") in response.url
