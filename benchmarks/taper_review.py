"""How fast the psychiatrist's taper review queue is with thousands of open plans.

    python benchmarks/taper_review.py [--patients 5000] [--requests 30] [--keep]

Creates its own database `stepdown_bench_review` (owner role; development settings), migrates it and fills
one clinic set-based (benchmarks/_bench_db.py): `--patients` patients, 48% with an open plan (of those:
1 in 12 proposed, 1 in 12 draft, 1 in 12 held, the rest active), each version carrying a few kB of JSON
(regimen, notes) and twelve 14-day steps placed so that about half the active plans have a step in the
next 7 days; 1 in 12 plan patients has an open "withdrawal scores rising" alert.

Then, as the application role (row-level security on) through Django's test client signed in as a
psychiatrist, it requests the review page (and, when the build paginates, the second page of steps due)
`--requests` times and prints p50 / p95 ms, SQL statements and bytes. DEBUG is off. Numbers are printed,
never asserted. The bench database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from _bench_db import NEW, bench_environment, create_database, drop_database, fill, migrate

BENCH_DB = "stepdown_bench_review"
PATIENTS = (
    "(SELECT p.*, row_number() OVER (PARTITION BY p.clinic_id ORDER BY p.mrn) AS n FROM patients_patient p) p"
)


def fill_statements() -> list:
    """(label, model, expressions, FROM …); `p.n` numbers the patients 1..N, `n % 25 < 12` have a plan."""
    note = "'\"A bench note about this version of the plan, kept as JSON.\",'"
    notes = f"'[' || rtrim(repeat({note}, 40), ',') || ']'"
    return [
        ("patients", "patients.Patient", {
            **NEW, "clinic_id": "c.id", "mrn": "'SD-' || lpad(g::text, 6, '0')", "first_name": "'Bench'",
            "last_name": "'Patient' || lpad(g::text, 5, '0')",
            "date_of_birth": "date '1960-01-01' + (g * 37) % 15000", "status": "'active'",
        }, "tenancy_clinic c CROSS JOIN generate_series(1, {patients}) AS g WHERE c.slug = 'bench-review'"),
        ("taper plans", "taper.TaperPlan", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id",
            "updated_at": "now() - (p.n % 9) * interval '1 day'",
            "status": "CASE p.n % 25 WHEN 0 THEN 'proposed' WHEN 1 THEN 'draft' ELSE 'active' END",
            "held_since": "CASE WHEN p.n % 25 = 2 THEN {today}::date - 3 END",
        }, f"{PATIENTS} WHERE p.n % 25 < 12"),
        ("plan versions", "taper.TaperPlanVersion", {
            **NEW, "clinic_id": "t.clinic_id", "plan_id": "t.id", "patient_id": "t.patient_id", "number": "1",
            "change": "'created'", "reason": "'bench'", "effective_from": "{today}::date - 60",
            "table": "'ashton'", "strategy": "'direct'",
            "regimen": "'[{\"drug\": \"diazepam\", \"dose_mg\": \"10\", \"time_of_day\": \"morning\"},"
                       " {\"drug\": \"diazepam\", \"dose_mg\": \"10\", \"time_of_day\": \"evening\"}]'"
                       "::jsonb",
            "rate_percent": "10", "interval_days": "14", "formulations": "'[\"diazepam_5mg_tab\"]'::jsonb",
            "baseline_de_mg": "20", "end_date": "{today}::date + 200", "final_de_mg": "0",
            "cap_wording": "'bench'", "cap_source": "'bench'", "notes": f"({notes})::jsonb",
        }, "taper_taperplan t"),
        # Twelve 14-day steps; the first began 42 + (n % 14) days ago, so a step starts in the next 7 days
        # for about half of the plans.
        ("taper steps", "taper.TaperStep", {
            **NEW, "clinic_id": "v.clinic_id", "version_id": "v.id", "plan_id": "v.plan_id",
            "patient_id": "v.patient_id", "index": "s.i", "phase": "'reduction'",
            "start": "{today}::date - 42 - (p.n % 14)::int + 14 * s.i",
            "end": "CASE WHEN s.i < 11 THEN {today}::date - 42 - (p.n % 14)::int + 14 * s.i + 13 END",
            "daily_de_mg": "20 - s.i", "window_reduction_percent": "10",
            "doses": "'[{\"drug\": \"diazepam\", \"mg\": \"10\"}]'::jsonb",
        }, f"taper_taperplanversion v JOIN {PATIENTS} ON p.id = v.patient_id "
           "CROSS JOIN generate_series(0, 11) AS s(i)"),
        ("rising-score alerts", "safety.Alert", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id", "rule_id": "'withdrawal_trend_rising'",
            "severity": "'moderate'", "title": "'Withdrawal scores rising'", "source": "'bench'",
            "dedup_key": "'withdrawal_trend_rising:' || p.id", "status": "'open'",
            "raised_at": "now() - (p.n % 5) * interval '1 day'", "occurred_at": "now() - interval '1 day'",
        }, f"{PATIENTS} WHERE p.n % 25 = 3"),
    ]  # fmt: skip


AFTER_FILL = [
    "UPDATE taper_taperplan t SET current_version_id = v.id"
    " FROM taper_taperplanversion v WHERE v.plan_id = t.id"
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    server_url, bench_url = bench_environment(BENCH_DB, DEBUG="false", ALLOWED_HOSTS="testserver,localhost")
    create_database(server_url, BENCH_DB)
    try:
        migrate()
        import django

        django.setup()
        from django.test import Client
        from scheduling_pages import time_pages

        from clinic.accounts.models import User
        from clinic.tenancy.models import Clinic, Membership

        clinic = Clinic.objects.create(
            slug="bench-review", name="Bench review clinic", timezone="America/New_York"
        )
        user = User.objects.create_user(
            email="psych@bench.example.org", password="x", full_name="Psychiatrist"
        )
        Membership.objects.create(user=user, clinic=clinic, roles=["psychiatrist"])
        started = time.perf_counter()
        counts = fill(
            bench_url,
            fill_statements(),
            {"patients": args.patients, "today": dt.date.today()},
            after=AFTER_FILL,
        )
        print(f"  (fill and ANALYZE {time.perf_counter() - started:.0f} s)\n")
        print(
            f"{counts['taper plans']:,} open plans, {counts['rising-score alerts']:,} rising-score alerts\n"
        )
        client = Client()
        client.force_login(user)
        review = f"/c/{clinic.slug}/taper/review/"
        pages = [("review queue", review), ("review queue, 14-day window", f"{review}?days=14")]
        if b"step_due_page=2" in client.get(review).content:
            pages.append(("steps due, page 2", f"{review}?step_due_page=2"))
        time_pages(client, pages, args.requests)
    finally:
        if not args.keep:
            drop_database(server_url, BENCH_DB)


if __name__ == "__main__":
    main()
