"""The shell every page inherits: navigation by role, clinic switcher, home, dashboard, error pages."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Membership
from clinic.tenancy.roles import Perm, Role, role_allows
from tests.conftest import make_member, make_patient

pytestmark = pytest.mark.django_db

NAV = re.compile(r'<nav class="mainnav" aria-label="Main">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"[^>]*>([^<]+)</a>')
SWITCHER = re.compile(r'<details class="menu switcher".*?</details>', re.S)


def _soft_reverse(name: str, clinic) -> str | None:
    try:
        return reverse(name, kwargs={"clinic_slug": clinic.slug})
    except NoReverseMatch:
        return None


def nav_links(html: str) -> dict[str, str]:
    match = NAV.search(html)
    assert match, "the page has no main navigation"
    return {text.strip(): href for href, text in LINK.findall(match.group(1))}


def expected_nav(role: Role, clinic) -> dict[str, str]:
    """What the permission table says this role's navigation holds (links other apps add only if routed)."""
    expected = {"Today": reverse("clinic-dashboard", kwargs={"clinic_slug": clinic.slug})}
    optional = [
        ("Patients", Perm.PATIENT_VIEW, "patients:list"),
        ("Schedule", Perm.SCHEDULE_VIEW, "scheduling:week"),
        ("Taper review", Perm.TAPER_VIEW, "taper:review"),
        ("Prescribers", Perm.PRESCRIBER_VIEW, "prescribers:registry"),
        ("Admissions", Perm.INQUIRY_VIEW, "admissions:board"),
        ("Alerts", Perm.ALERT_VIEW, "safety:inbox"),
        ("Audit", Perm.AUDIT_VIEW, "audit:report"),
        ("Staff", Perm.STAFF_MANAGE, "staff:staff"),
        ("Settings", Perm.CLINIC_SETTINGS, "staff:settings"),
    ]
    for label, perm, url_name in optional:
        url = _soft_reverse(url_name, clinic)
        if role_allows([role], perm) and url:
            expected[label] = url
    return expected


@pytest.mark.parametrize("role", list(Role))
def test_dashboard_renders_for_every_role_with_the_navigation_its_role_allows(
    client, clinic_a, staff_a, role
):
    client.force_login(staff_a[role])
    response = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug}))
    assert response.status_code == 200
    assert nav_links(response.content.decode()) == expected_nav(role, clinic_a)


def test_nurse_sees_patients_but_no_audit_or_staff_link(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    links = nav_links(
        client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    )
    assert "Patients" in links
    assert not {"Audit", "Staff", "Settings"} & set(links)


def test_auditor_sees_audit_but_no_patients(client, clinic_a, staff_a):
    make_patient(clinic_a, first_name="Quincy", last_name="Hidden-From-Auditor")
    if _soft_reverse("audit:report", clinic_a) is None:
        pytest.skip("audit:report is not routed in this tree")
    client.force_login(staff_a[Role.AUDITOR])
    response = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug}))
    html = response.content.decode()
    links = nav_links(html)
    assert "Audit" in links and "Patients" not in links
    # The auditor's Today page shows no patient figures or names.
    assert "Hidden-From-Auditor" not in html and "Census" not in html


def test_clinic_admin_sees_staff_and_settings(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.CLINIC_ADMIN])
    links = nav_links(
        client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    )
    for label, url_name in (("Staff", "staff:staff"), ("Settings", "staff:settings")):
        if _soft_reverse(url_name, clinic_a):
            assert label in links


def test_current_page_is_marked_in_navigation(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    html = client.get(reverse("patients:list", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    nav = NAV.search(html).group(1)
    assert re.search(r'href="/c/clinic-a/patients/" aria-current="page">Patients<', nav)
    assert 'aria-current="page">Today<' not in nav


# --- clinic switcher ------------------------------------------------------------------------------
def test_switcher_lists_both_clinics_for_a_member_of_two_and_marks_the_current(client, clinic_a, clinic_b):
    person = make_member(clinic_a, Role.NURSE, email="two-clinics@example.org")
    Membership.objects.create(user=person, clinic=clinic_b, roles=[Role.CLINICIAN])
    client.force_login(person)
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_b.slug})).content.decode()
    switcher = SWITCHER.search(html).group(0)
    assert 'href="/c/clinic-a/"' in switcher and "Alder Clinic" in switcher
    assert re.search(r'href="/c/clinic-b/" aria-current="true"[^>]*>Birch Clinic<', switcher)
    assert not re.search(r'href="/c/clinic-a/" aria-current', switcher)


def test_switcher_lists_only_the_members_own_clinic(client, clinic_a, clinic_b, staff_a, staff_b):
    client.force_login(staff_a[Role.NURSE])
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    switcher = SWITCHER.search(html).group(0)
    assert "Alder Clinic" in switcher
    assert "Birch Clinic" not in html and "/c/clinic-b/" not in html


def test_inactive_membership_is_not_in_the_switcher(client, clinic_a, clinic_b):
    person = make_member(clinic_a, Role.NURSE, email="left-b@example.org")
    Membership.objects.create(user=person, clinic=clinic_b, roles=[Role.NURSE], is_active=False)
    client.force_login(person)
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    assert "Birch Clinic" not in html


# --- home and dashboard ---------------------------------------------------------------------------
def test_home_shows_clinic_cards_to_a_member_of_two(client, clinic_a, clinic_b):
    person = make_member(clinic_a, Role.NURSE, email="chooser@example.org")
    Membership.objects.create(user=person, clinic=clinic_b, roles=[Role.AUDITOR])
    client.force_login(person)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="card" href="/c/clinic-a/"' in html and 'class="card" href="/c/clinic-b/"' in html
    assert "Nurse" in html and "Auditor" in html


def test_home_sends_a_member_of_one_clinic_straight_to_it(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == "/c/clinic-a/"


def test_dashboard_census_links_to_filtered_lists_and_recent_read_is_audited(client, clinic_a, staff_a):
    make_patient(clinic_a, first_name="Casey", last_name="Census", status="active")
    make_patient(clinic_a, first_name="Devon", last_name="Census", status="on_hold")
    client.force_login(staff_a[Role.NURSE])
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    assert 'href="/c/clinic-a/patients/?status=active"' in html
    assert 'href="/c/clinic-a/patients/?status=on_hold"' in html
    assert "Census, Casey" in html  # recently updated
    assert 'href="/c/clinic-a/patients/new/"' in html  # nurses may add patients
    with tenant_context(clinic_a):
        listed = AuditEvent.objects.filter(action=AuditEvent.Action.LIST, detail__view="dashboard.recent")
        assert listed.count() == 1


def test_clinician_gets_no_add_patient_action(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.CLINICIAN])
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    assert "/c/clinic-a/patients/new/" not in html


def test_user_menu_links_two_factor_and_signs_out_by_post(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.NURSE])
    html = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})).content.decode()
    assert f'href="{reverse("mfa_index")}"' in html
    assert re.search(rf'<form method="post" action="{reverse("account_logout")}">', html)
    assert 'class="skip-link" href="#main"' in html and 'id="main"' in html
    assert 'role="status"' in html


def test_body_exposes_idle_timeout_for_signed_in_users_only(client, clinic_a, staff_a):
    clinic_a.idle_timeout_minutes = 20
    clinic_a.save()
    client.force_login(staff_a[Role.NURSE])
    url = reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})
    first = client.get(url).content.decode()
    # The middleware may fill the session key only from the second request; the script then asks the probe.
    assert f'data-session-url="{reverse("session-idle")}"' in first
    assert 'data-idle-timeout="1200"' in client.get(url).content.decode()
    client.logout()
    assert "data-idle-timeout" not in client.get(reverse("account_login")).content.decode()


# --- error pages ----------------------------------------------------------------------------------
def test_other_clinics_patient_is_a_friendly_404_that_shows_nothing_of_theirs(
    client, clinic_a, staff_a, patient_b
):
    client.force_login(staff_a[Role.NURSE])
    response = client.get(
        reverse("patients:detail", kwargs={"clinic_slug": clinic_a.slug, "patient_id": patient_b.pk})
    )
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found — or not in this clinic" in html
    assert patient_b.last_name not in html and patient_b.first_name not in html and patient_b.mrn not in html
    assert "Birch Clinic" not in html and "Traceback" not in html


def test_other_clinics_url_is_a_friendly_404_without_its_name(client, clinic_a, clinic_b, staff_a):
    client.force_login(staff_a[Role.NURSE])
    response = client.get(reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_b.slug}))
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found — or not in this clinic" in html and "Birch Clinic" not in html


def test_role_denial_is_a_plain_language_403(client, clinic_a, staff_a):
    client.force_login(staff_a[Role.AUDITOR])
    response = client.get(reverse("patients:list", kwargs={"clinic_slug": clinic_a.slug}))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role doesn’t include this" in html
    assert "patient.view" not in html  # no internals


def test_500_page_renders_without_any_context():
    html = render_to_string("500.html")
    assert "Something went wrong" in html and "/static/stepdown/stepdown.css" in html
