"""How long the safety sweep takes per 10,000 patients, and how many queries one clinic's sweep runs.

    python benchmarks/safety_sweep.py [--clinics 10] [--patients 1000] [--runs 3]

Creates its own database `stepdown_bench_sweep` (as the owner role; development settings), migrates it,
and fills it set-based (INSERT … SELECT generate_series, one statement per table) with synthetic data:
clinics in several time zones; per patient a check-in link, a month of daily check-ins (about one day in
ten missed, a few with emergency / call-the-team guidance, 5% with symptom scores rising after the last
taper step), an active taper plan with three reduction steps, a vital-signs reading in the last three
days (a few over a threshold) and a CIWA-B each week plus a PHQ-9 (a few severe / item 9 positive).

Then, as the application role inside each clinic's `tenant_context` (row-level security on), it runs
`safety.sweeps.sweep_clinic` for every clinic, as the beat's fan-out would, several times:

  run 1  the first sweep: finds everything and raises every alert (a worker back after an outage);
  run 2+ steady state: the same `now` again, so nothing is new (what the beat does every 15 minutes).

It reports wall time per clinic and per 10,000 patients, the time in the finding queries alone, and
the number of SQL statements per clinic sweep. Numbers go in benchmarks/README.md, never in asserts.
The Celery broker is an in-memory one here, so the alert emails alerts_raise queues go nowhere. The
bench database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _bench_db import (
    NEW,
    analyze,
    bench_environment,
    create_database,
    drop_database,
    fill,
    make_clinics,
    migrate,
)

BENCH_DB = "stepdown_bench_sweep"


# --- set-based fill ----------------------------------------------------------------------------------------
def fill_statements() -> list[tuple[str, str, dict[str, str], str]]:
    """(label, model, expressions, FROM …): one INSERT … SELECT per table. `p.n` numbers patients 1..N per
    clinic; `clinic_day` is the clinic's calendar day at now()."""
    patients = (
        "(SELECT p.*, row_number() OVER (PARTITION BY p.clinic_id ORDER BY p.mrn) AS n"
        " FROM patients_patient p) p"
    )
    clinic_day = "(now() AT TIME ZONE c.timezone)::date"
    return [
        ("patients", "patients.Patient", {
            "id": "gen_random_uuid()", "clinic_id": "c.id", "created_at": "now()", "updated_at": "now()",
            "mrn": "'SD-' || lpad(g::text, 6, '0')", "first_name": "'Bench'", "last_name": "'Patient' || g",
            "date_of_birth": "date '1960-01-01' + (g * 37) % 15000", "status": "'active'",
        }, "tenancy_clinic c CROSS JOIN generate_series(1, {patients}) AS g WHERE c.slug LIKE 'bench-%'"),
        ("check-in links", "checkins.CheckInLink", {
            "id": "gen_random_uuid()", "clinic_id": "p.clinic_id", "created_at": "now() - interval '40 days'",
            "updated_at": "now()", "patient_id": "p.id", "expires_at": "now() + interval '60 days'",
        }, "patients_patient p"),
        # A month of check-ins: day k (1..30 days ago, clinic time); about one in ten days missed.
        ("check-ins", "checkins.CheckIn", {
            "id": "gen_random_uuid()", "clinic_id": "p.clinic_id",
            "created_at": f"({clinic_day} - k + time '12:00') AT TIME ZONE c.timezone",
            "updated_at": f"({clinic_day} - k + time '12:00') AT TIME ZONE c.timezone",
            "patient_id": "p.id", "link_id": "l.id", "local_date": f"{clinic_day} - k",
            "submitted_at": f"({clinic_day} - k + time '12:00') AT TIME ZONE c.timezone",
            "dose_status": "'taken_as_planned'", "symptom_form_version": "'1'",
            # 5% of patients score 6 points higher from the last step (5 days ago) on: a rising trend.
            "symptom_score": "(p.n % 8) + CASE WHEN p.n % 20 = 0 AND k <= 5 THEN 6 ELSE 0 END",
            "sleep_hours": "7.0", "sleep_quality": "'fair'", "anxiety": "p.n % 10", "cravings": "k % 10",
            "alcohol": "false", "other_drugs": "false", "guidance_version": "'1'",
            "guidance": "CASE WHEN (p.n * 31 + k) % 997 = 0 THEN 'emergency' "
                        "WHEN (p.n * 17 + k) % 211 = 0 THEN 'call_team' ELSE '' END",
        }, f"{patients} JOIN tenancy_clinic c ON c.id = p.clinic_id "
           "JOIN checkins_checkinlink l ON l.patient_id = p.id CROSS JOIN generate_series(1, 30) AS k "
           "WHERE (p.n * 7 + k) % 10 <> 0"),
        ("taper plans", "taper.TaperPlan", {
            **NEW, "clinic_id": "p.clinic_id",
            "patient_id": "p.id", "status": "'active'",
        }, "patients_patient p"),
        ("plan versions", "taper.TaperPlanVersion", {
            **NEW, "clinic_id": "t.clinic_id",
            "plan_id": "t.id", "patient_id": "t.patient_id", "number": "1", "change": "'created'",
            "reason": "'bench'", "effective_from": "current_date - 40", "table": "'ashton'",
            "strategy": "'direct'", "regimen": "'[]'::jsonb", "rate_percent": "10", "interval_days": "14",
            "formulations": "'[]'::jsonb", "baseline_de_mg": "20", "end_date": "current_date + 200",
            "final_de_mg": "0", "cap_wording": "''", "cap_source": "''",
        }, "taper_taperplan t"),
        # Reduction steps 40, 26 and 5 days ago (clinic time): the last one is inside the trend windows.
        ("taper steps", "taper.TaperStep", {
            **NEW, "clinic_id": "v.clinic_id",
            "version_id": "v.id", "plan_id": "v.plan_id", "patient_id": "v.patient_id", "index": "s.i",
            "phase": "'reduction'", "start": f"{clinic_day} - s.ago",
            "end": f"CASE WHEN s.i < 2 THEN {clinic_day} - s.next_ago - 1 END",
            "daily_de_mg": "s.de_mg", "window_reduction_percent": "10", "doses": "'[]'::jsonb",
        }, "taper_taperplanversion v JOIN tenancy_clinic c ON c.id = v.clinic_id CROSS JOIN "
           "(VALUES (0, 40, 26, 20), (1, 26, 5, 18), (2, 5, NULL, 16)) AS s(i, ago, next_ago, de_mg)"),
        ("vital readings", "vitals.VitalReading", {
            "id": "gen_random_uuid()", "clinic_id": "p.clinic_id", "patient_id": "p.id",
            "created_at": "now() - (p.n % 60) * interval '1 hour'", "updated_at": "now()",
            "taken_at": "now() - (p.n % 60) * interval '1 hour'", "taken_by": "'Bench nurse'",
        }, patients),
        # Four values per reading; a few over a threshold (low RR, low SpO2, stage 2, crisis).
        ("vital values", "vitals.VitalValue", {
            "id": "gen_random_uuid()", "clinic_id": "r.clinic_id", "created_at": "r.created_at",
            "updated_at": "now()", "reading_id": "r.id", "patient_id": "r.patient_id", "kind": "v.kind",
            "value": "CASE v.kind WHEN 'respiratory_rate' THEN CASE WHEN p.n % 97 = 0 THEN 7 ELSE 14 END "
                     "WHEN 'spo2' THEN CASE WHEN p.n % 89 = 0 THEN 90 ELSE 97 END "
                     "WHEN 'systolic_bp' THEN CASE WHEN p.n % 151 = 0 THEN 185 WHEN p.n % 13 = 0 THEN 150 "
                     "ELSE 120 END ELSE 78 END",
            "unit": "'x'", "loinc": "'0000-0'", "taken_at": "r.taken_at",
        }, f"vitals_vitalreading r JOIN {patients} ON p.id = r.patient_id CROSS JOIN "
           "(VALUES ('respiratory_rate'), ('spo2'), ('systolic_bp'), ('diastolic_bp')) AS v(kind)"),
        # A CIWA-B each week (about 1% severe) and one PHQ-9 (2% item 9 positive) in the last 3 days.
        ("instrument results", "vitals.InstrumentResult", {
            "id": "gen_random_uuid()", "clinic_id": "p.clinic_id", "patient_id": "p.id",
            "created_at": "now() - (greatest(w, 0) * 7 + p.n % 3) * interval '1 day'", "updated_at": "now()",
            "completed_at": "now() - (greatest(w, 0) * 7 + p.n % 3) * interval '1 day'",
            "instrument": "CASE WHEN w < 0 THEN 'phq9' ELSE 'ciwa_b' END",
            "instrument_name": "CASE WHEN w < 0 THEN 'PHQ-9' ELSE 'CIWA-B' END",
            "instrument_version": "'bench'",
            "answers": "CASE WHEN w < 0 THEN jsonb_build_object('9', CASE WHEN p.n % 50 = 0 THEN 1 ELSE 0"
                       " END) ELSE '{}'::jsonb END",
            "total": "CASE WHEN w < 0 THEN 3 WHEN p.n % 101 = 0 THEN 45 ELSE p.n % 30 END",
            "band": "''", "band_label": "''",
        }, f"{patients} CROSS JOIN (VALUES (-1), (0), (1), (2), (3)) AS weeks(w)"),
    ]  # fmt: skip


AFTER_FILL = [
    "UPDATE taper_taperplan t SET current_version_id = v.id"
    " FROM taper_taperplanversion v WHERE v.plan_id = t.id"
]


# --- the sweep ---------------------------------------------------------------------------------------------
STATEMENTS = {
    "missed check-ins": "checkins_checkinlink",
    "vital readings": "vitals_vitalvalue",
    "instrument results": "SELECT i.id",
    "check-in guidance": "c.guidance = ANY",
    "trend after step": "WITH latest AS",
    "alerts_raise INSERT": 'INSERT INTO "safety_alert"',
}


def label_of(sql: str) -> str | None:
    return next((label for label, marker in STATEMENTS.items() if marker in sql), None)


def sweep_once(clinics, now) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clinic.tenancy.context import tenant_context
    from safety.sweeps import clinic_findings, sweep_clinic

    rows = []
    for clinic in clinics:
        with tenant_context(clinic):  # the finding queries alone (rolled back: they only read)
            started = time.perf_counter()
            _, findings = clinic_findings(clinic=clinic, now=now)
            finding_s = time.perf_counter() - started
        connection.queries_log.clear()  # the log keeps 9,000 statements; a first sweep may run more
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = sweep_clinic(clinic=clinic, now=now)
            total_s = time.perf_counter() - started
        rows.append(
            {
                "clinic": clinic.slug,
                "findings": len(findings),
                "raised": sum(result.raised.values()),
                "raised_by_rule": dict(result.raised),
                "queries": len(queries.captured_queries),
                "statements": {
                    label: sum(
                        float(q["time"]) for q in queries.captured_queries if label_of(q["sql"]) == label
                    )
                    for label in STATEMENTS
                },
                "find_s": finding_s,
                "sweep_s": total_s,
            }
        )
    return rows


def report(run: int, rows: list[dict], patients_total: int) -> None:
    sweep = sum(r["sweep_s"] for r in rows)
    find = sum(r["find_s"] for r in rows)
    per_10k = 10_000 / patients_total
    queries = [r["queries"] for r in rows]
    raised = sum(r["raised"] for r in rows)
    print(
        f"| {run} | {raised:,} | {sweep * per_10k:.2f} s | {find * per_10k:.2f} s "
        f"| {statistics.median(r['sweep_s'] for r in rows) * 1000:.0f} ms "
        f"| {min(queries)}–{max(queries)} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=10)
    parser.add_argument("--patients", type=int, default=1000, help="patients per clinic")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    server_url, bench_url = bench_environment(BENCH_DB)

    create_database(server_url, BENCH_DB)
    try:
        migrate()
        import django

        django.setup()
        from django.utils import timezone

        from clinic.tenancy.models import Clinic

        print(f"Filling {args.clinics} clinics x {args.patients} patients:", flush=True)
        make_clinics(args.clinics)
        counts = fill(bench_url, fill_statements(), {"patients": args.patients}, after=AFTER_FILL)
        clinics = list(Clinic.objects.filter(slug__startswith="bench-").order_by("slug"))
        total = counts["patients"]
        now = timezone.now()
        print(f"\n{total:,} patients, {counts['check-ins']:,} check-ins; now = {now:%Y-%m-%d %H:%M} UTC\n")
        print(
            "| run | alerts raised | sweep per 10,000 patients | finding queries alone | median clinic "
            "| queries per clinic |"
        )
        print("|---|---|---|---|---|---|")
        first = None
        for run in range(1, args.runs + 1):
            rows = sweep_once(clinics, now)
            first = first or rows
            report(run, rows, total)
            if run == 1:  # what autovacuum does within a minute of thousands of new alerts
                analyze(bench_url, "safety_alert")
        by_rule: dict[str, int] = {}
        for row in first:
            for rule, n in row["raised_by_rule"].items():
                by_rule[rule] = by_rule.get(rule, 0) + n
        print(f"\nRun 1 alerts by rule: {json.dumps(dict(sorted(by_rule.items())))}")
        print(f"\nLast run, time per statement (median over clinics of {args.patients:,} patients), ms:")
        for label in STATEMENTS:
            print(f"  {label}: {statistics.median(r['statements'][label] for r in rows) * 1000:.1f}")
    finally:
        if args.keep:
            print(f"\nKept the database {BENCH_DB}.")
        else:
            drop_database(server_url, BENCH_DB)


if __name__ == "__main__":
    main()
