"""How long the nightly co-prescription sweep takes per 10,000 patients, and how many statements it runs.

    python benchmarks/corx_sweep.py [--clinics 10] [--patients 1000] [--runs 3] [--report-kb 20] [--keep]

Creates its own database `stepdown_bench_corx` (as the owner role; development settings), migrates it and
fills it set-based (INSERT … SELECT generate_series, one statement per table; benchmarks/_bench_db.py)
with synthetic data: clinics in several time zones, each with 40 prescribers (3 of them the program's
own, `in_program`) and 30 pharmacies; per patient one PDMP import (storage policy "raw": the report text,
`--report-kb` KB of it, is kept) and a year of fills from it:

  every patient   a benzodiazepine each month (alprazolam or clonazepam 1 mg, 60 for 30 days);
  20%             oxycodone 10 mg, 120 for 30 days, monthly (40 mg/day: 60 MME; 1 in 5 of them 240: 120 MME);
  5%              gabapentin 300 mg, 90 for 30 days, monthly;
  3%              a second prescriber's fills of the same benzodiazepine, 15 days out of step (overlapping);
  2%              oxycodone 5 mg for 7 days every 15 days in the last 100 days, each from the next prescriber
                  and pharmacy, their benzodiazepine rotating too (a multiple-provider episode);

plus medication orders for some (10% an order of their benzodiazepine that the fills dispense, 4% an
oxycodone order nobody fills, 2.5% a stopped zolpidem order), a current reported medicine for 2.5%, an
alcohol intake entry for 3%, and for half the patients an approved or active taper plan (three steps,
40, 26 and 5 days ago, tapering their benzodiazepine — 1 in 10 of them switching to diazepam) with 90
days of daily check-ins (about one in ten missed; a few report alcohol). Fills of plan patients follow
the step in force, except for a third of one half of them, who keep filling the full dose.

Then, as the application role (row-level security on), it runs `safety.corx.sweep_clinic` for every clinic
as the nightly beat's fan-out would (`safety.tasks.sweep_all_coprescriptions`), several times:

  run 1  the first sweep: every episode is new and raised;
  run 2+ steady state: the same `now` again, so nothing is new.

It reports wall time per clinic and per 10,000 patients, SQL statements per clinic sweep and per batch of
500 patients (a connection execute_wrapper counts them), alerts raised by rule, and a profile of where the
time goes (finding the patients, the medication list, alcohol reports, assembling facts, the pure rules,
findings, alerts_raise; each phase's SQL time apart from its Python time), then times the pure rules alone
on one clinic's facts, loaded once. Numbers go in benchmarks/README.md, never in asserts. DEBUG is off (as
on a worker). The bench database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import pstats
import re
import statistics
import time
from collections import Counter, defaultdict
from contextlib import contextmanager

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

BENCH_DB = "stepdown_bench_corx"
PRESCRIBERS, IN_PROGRAM, PHARMACIES = 40, 3, 30

# --- set-based fill ----------------------------------------------------------------------------------------
PATIENTS_N = (
    "(SELECT p.*, (row_number() OVER (PARTITION BY p.clinic_id ORDER BY p.mrn))::int AS n"
    " FROM patients_patient p) p"
)
CLINIC_DAY = "(now() AT TIME ZONE c.timezone)::date"
ON_PLAN = "p.n % 4 IN (1, 2)"  # half the patients
FULL_DOSE = "p.n % 12 = 5"  # plan patients who keep filling the dose they had before the plan
BENZO = "CASE WHEN p.n % 2 = 0 THEN 'alprazolam' ELSE 'clonazepam' END"
PLAN_DRUG = f"CASE WHEN p.n % 20 = 2 THEN 'diazepam' ELSE {BENZO} END"


def npi(prefix: str, index: str, modulo: str) -> str:
    """The NPI of prescriber / pharmacy number 1 + (index mod modulo) of the clinic (see the fill)."""
    return f"'{prefix}' || lpad((1 + ({index}) % {modulo})::text, 8, '0')"


# Fill streams: (stream, drug text, ingredient, class, strength mg, quantity, days supply, every, offset).
STREAMS = """(VALUES
    ('benzo', 'Alprazolam 1 MG Oral Tablet', 'alprazolam', 'benzodiazepine', 1, 60, 30, 30, 0),
    ('benzo', 'Clonazepam 1 MG Oral Tablet', 'clonazepam', 'benzodiazepine', 1, 60, 30, 30, 0),
    ('benzo2', 'Alprazolam 1 MG Oral Tablet', 'alprazolam', 'benzodiazepine', 1, 60, 30, 30, 15),
    ('benzo2', 'Clonazepam 1 MG Oral Tablet', 'clonazepam', 'benzodiazepine', 1, 60, 30, 30, 15),
    ('opioid', 'Oxycodone Hydrochloride 10 MG Oral Tablet', 'oxycodone', 'opioid', 10, 120, 30, 30, 3),
    ('gaba', 'Gabapentin 300 MG Oral Capsule', 'gabapentin', 'gabapentinoid', 300, 90, 30, 30, 5),
    ('mpe', 'Oxycodone Hydrochloride 5 MG Oral Tablet', 'oxycodone', 'opioid', 5, 28, 7, 15, 2)
) AS s(stream, drug_text, ingredient, drug_class, strength, quantity, days, every, "offset")"""
STREAM_APPLIES = (
    "CASE s.stream WHEN 'benzo' THEN s.ingredient = " + BENZO + " WHEN 'benzo2' THEN p.n % 33 = 2 AND "
    "s.ingredient = " + BENZO + " WHEN 'opioid' THEN p.n % 5 = 0 WHEN 'gaba' THEN p.n % 20 = 1 "
    "WHEN 'mpe' THEN p.n % 50 = 3 AND f.filled_on >= " + CLINIC_DAY + " - 100 END"
)
PRESCRIBER_OF_FILL = (
    "CASE s.stream WHEN 'benzo' THEN CASE WHEN p.n % 50 = 3 THEN p.n + k ELSE p.n END "
    "WHEN 'benzo2' THEN p.n + 20 WHEN 'opioid' THEN p.n * 7 + 3 WHEN 'gaba' THEN p.n * 11 + 5 "
    "ELSE p.n * 3 + k END"
)
PHARMACY_OF_FILL = (
    "CASE s.stream WHEN 'benzo' THEN CASE WHEN p.n % 50 = 3 THEN p.n + 2 * k ELSE p.n END "
    "WHEN 'mpe' THEN p.n * 3 + k ELSE p.n END"
)
# Tablets per fill: plan patients' benzodiazepine fills follow the step in force on the fill day (2, 1.5
# and 1 mg a day from 40, 26 and 5 days ago) unless they keep the full dose; 1 in 25 opioid patients
# fill 240 (120 MME).
QUANTITY = (
    f"CASE WHEN s.stream = 'benzo' AND {ON_PLAN} AND NOT {FULL_DOSE} AND p.n % 20 <> 2 THEN "
    f"CASE WHEN f.filled_on >= {CLINIC_DAY} - 5 THEN 30 WHEN f.filled_on >= {CLINIC_DAY} - 26 THEN 45 "
    "ELSE 60 END WHEN s.stream = 'opioid' AND p.n % 25 = 0 THEN 240 ELSE s.quantity END"
)
FILLS_FROM = (
    f"{PATIENTS_N} JOIN tenancy_clinic c ON c.id = p.clinic_id "
    "JOIN prescribers_pdmpimport i ON i.patient_id = p.id "
    f"CROSS JOIN {STREAMS} CROSS JOIN generate_series(0, 400 / s.every) AS k "
    f'CROSS JOIN LATERAL (SELECT {CLINIC_DAY} - 364 + p.n % 28 + s."offset" + k * s.every AS filled_on) f '
    "CROSS JOIN LATERAL (SELECT " + QUANTITY + " AS quantity) q "
    "JOIN prescribers_prescriber pr ON pr.clinic_id = p.clinic_id "
    f"AND pr.npi = {npi('19', PRESCRIBER_OF_FILL, '{prescribers}')} "
    "JOIN prescribers_pharmacy ph ON ph.clinic_id = p.clinic_id "
    f"AND ph.npi = {npi('18', PHARMACY_OF_FILL, '{pharmacies}')} "
    f"WHERE f.filled_on <= {CLINIC_DAY} AND {STREAM_APPLIES}"
)
# Orders: (kind, drug text, ingredient, class, strength, doses per day, from, until, status).
ORDERS = """(VALUES
    ('benzo', 'Alprazolam 1 MG Oral Tablet', 'alprazolam', 'benzodiazepine', 1, 2, NULL, NULL, 'active'),
    ('benzo', 'Clonazepam 1 MG Oral Tablet', 'clonazepam', 'benzodiazepine', 1, 2, NULL, NULL, 'active'),
    ('opioid', 'Oxycodone Hydrochloride 5 MG Oral Tablet', 'oxycodone', 'opioid', 5, 4, 60, NULL, 'active'),
    ('z_drug', 'Zolpidem 10 MG Oral Tablet', 'zolpidem', 'z_drug', 10, 1, 45, 15, 'stopped')
) AS o(kind, drug_text, ingredient, drug_class, strength, per_day, from_ago, until_ago, status)"""
ORDER_APPLIES = (
    "CASE o.kind WHEN 'benzo' THEN p.n % 10 = 4 AND o.ingredient = " + BENZO + " "
    "WHEN 'opioid' THEN p.n % 25 = 7 ELSE p.n % 40 = 9 END"
)


def fill_statements() -> list[tuple[str, str, dict[str, str], str]]:
    """(label, model, expressions, FROM …): one INSERT … SELECT per table. `p.n` numbers patients 1..N per
    clinic; the clinic's calendar day at now() is the sweep's today."""
    return [
        ("patients", "patients.Patient", {
            **NEW, "clinic_id": "c.id",
            "mrn": "'SD-' || lpad(g::text, 6, '0')", "first_name": "'Bench'", "last_name": "'Patient' || g",
            "date_of_birth": "date '1960-01-01' + (g * 37) % 15000", "status": "'active'",
        }, "tenancy_clinic c CROSS JOIN generate_series(1, {patients}) AS g WHERE c.slug LIKE 'bench-%'"),
        ("prescribers", "prescribers.Prescriber", {
            **NEW, "clinic_id": "c.id", "first_name": "'Bench'", "last_name": "'Prescriber ' || g",
            "credentials": "'MD'", "npi": "'19' || lpad(g::text, 8, '0')", "in_program": "g <= {in_program}",
            "is_active": "true",
        }, "tenancy_clinic c CROSS JOIN generate_series(1, {prescribers}) AS g WHERE c.slug LIKE 'bench-%'"),
        ("pharmacies", "prescribers.Pharmacy", {
            **NEW, "clinic_id": "c.id", "name": "'Bench Pharmacy ' || g",
            "npi": "'18' || lpad(g::text, 8, '0')",
        }, "tenancy_clinic c CROSS JOIN generate_series(1, {pharmacies}) AS g WHERE c.slug LIKE 'bench-%'"),
        # One PDMP report per patient, kept ("raw" policy): --report-kb KB of incompressible text.
        ("PDMP imports", "prescribers.PdmpImport", {
            **NEW, "created_at": "now() - interval '1 day'", "clinic_id": "p.clinic_id", "patient_id": "p.id",
            "state": "'OH'", "format": "'fhir'", "storage_policy": "'raw'",
            "queried_at": "now() - interval '1 day'",
            "report_sha256": "md5(p.id::text) || md5(p.mrn)", "filename": "'pdmp-history.json'",
            "raw": "(SELECT coalesce(string_agg(md5(p.id::text || r), ''), '')"
                   " FROM generate_series(1, {report_kb} * 32) AS r)",
            "patient_name_on_report": "p.first_name || ' ' || p.last_name",
            "imported_by_label": "'Bench nurse'",
        }, "patients_patient p"),
        ("dispensations", "prescribers.Dispensation", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id", "pdmp_import_id": "i.id",
            "drug_text": "s.drug_text", "ingredient": "s.ingredient", "drug_class": "s.drug_class",
            "strength": "s.strength", "strength_unit": "'mg'", "form": "'tablet'",
            "prescriber_id": "pr.id", "pharmacy_id": "ph.id",
            "fingerprint": "md5(s.stream || ':' || s.ingredient || ':' || k)",
            "filled_on": "f.filled_on", "written_on": "f.filled_on - 2",
            "supply_end": "f.filled_on + s.days - 1", "quantity": "q.quantity", "quantity_unit": "'tablet'",
            "days_supply": "s.days", "daily_amount": "round(q.quantity * s.strength / s.days::numeric, 4)",
            "rx_number": "'RX' || (p.n * 100 + k)",
            "prescriber_name": "pr.first_name || ' ' || pr.last_name", "pharmacy_name": "ph.name",
        }, FILLS_FROM),
        ("medication orders", "prescribers.Medication", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id", "drug_text": "o.drug_text",
            "ingredient": "o.ingredient", "drug_class": "o.drug_class", "strength": "o.strength",
            "strength_unit": "'mg'", "form": "'tablet'", "prescriber_id": "pr.id", "source": "'staff'",
            "dose": "1", "dose_unit": "'tablet'", "doses_per_day": "o.per_day",
            "start_on": f"coalesce({CLINIC_DAY} - o.from_ago, {CLINIC_DAY} - 364 + p.n % 28)",
            "end_on": f"{CLINIC_DAY} - o.until_ago", "status": "o.status",
            "stopped_on": f"{CLINIC_DAY} - o.until_ago", "entered_by_label": "'Bench nurse'",
        }, f"{PATIENTS_N} JOIN tenancy_clinic c ON c.id = p.clinic_id CROSS JOIN {ORDERS} "
           "JOIN prescribers_prescriber pr ON pr.clinic_id = p.clinic_id AND pr.npi = "
           + npi("19", "CASE o.kind WHEN 'benzo' THEN p.n ELSE p.n * 13 + 1 END", "{prescribers}")
           + f" WHERE {ORDER_APPLIES}"),
        ("reported medications", "patients.ReportedMedication", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id", "name": "'Xanax'", "strength": "'1 mg'",
            "dose_frequency": "'1 tablet at night'", "is_benzodiazepine": "true",
            "reported_on": f"{CLINIC_DAY} - 200", "status": "'current'",
        }, f"{PATIENTS_N} JOIN tenancy_clinic c ON c.id = p.clinic_id WHERE p.n % 40 = 13"),
        ("alcohol at intake", "patients.SubstanceUse", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id", "category": "'alcohol'",
            "daily_amount": "4", "unit": "'drinks'", "last_used_on": f"{CLINIC_DAY} - 3 - p.n % 20",
        }, f"{PATIENTS_N} JOIN tenancy_clinic c ON c.id = p.clinic_id WHERE p.n % 30 = 11"),
        ("taper plans", "taper.TaperPlan", {
            **NEW, "clinic_id": "p.clinic_id", "patient_id": "p.id",
            "status": "CASE WHEN p.n % 8 = 1 THEN 'approved' ELSE 'active' END",
        }, f"{PATIENTS_N} WHERE {ON_PLAN}"),
        ("plan versions", "taper.TaperPlanVersion", {
            **NEW, "clinic_id": "t.clinic_id",
            "plan_id": "t.id", "patient_id": "t.patient_id", "number": "1", "change": "'created'",
            "reason": "'bench'", "effective_from": "current_date - 40", "table": "'ashton'",
            "strategy": "'direct'", "regimen": "'[]'::jsonb", "rate_percent": "10", "interval_days": "14",
            "formulations": "'[]'::jsonb", "baseline_de_mg": "40", "end_date": "current_date + 200",
            "final_de_mg": "0", "cap_wording": "''", "cap_source": "''",
        }, "taper_taperplan t"),
        # Steps 40, 26 and 5 days ago (clinic time): 2, 1.5 and 1 mg of their benzodiazepine a day (or
        # diazepam 20, 15 and 10 mg).
        ("taper steps", "taper.TaperStep", {
            **NEW, "clinic_id": "v.clinic_id",
            "version_id": "v.id", "plan_id": "v.plan_id", "patient_id": "v.patient_id", "index": "s.i",
            "phase": "'reduction'", "start": f"{CLINIC_DAY} - s.ago",
            "end": f"CASE WHEN s.i < 2 THEN {CLINIC_DAY} - s.next_ago - 1 END",
            "daily_de_mg": "s.de_mg", "window_reduction_percent": "25",
            "doses": f"jsonb_build_array(jsonb_build_object('drug', {PLAN_DRUG}, 'time', 'morning', 'mg', "
                     f"(CASE WHEN p.n % 20 = 2 THEN s.mg * 10 ELSE s.mg END)::text, 'de_mg', s.de_mg::text, "
                     "'tablets', '[]'::jsonb, 'liquid', NULL))",
        }, f"taper_taperplanversion v JOIN {PATIENTS_N} ON p.id = v.patient_id "
           "JOIN tenancy_clinic c ON c.id = v.clinic_id CROSS JOIN "
           "(VALUES (0, 40, 26, 2.0, 40), (1, 26, 5, 1.5, 30), (2, 5, NULL, 1.0, 20))"
           " AS s(i, ago, next_ago, mg, de_mg)"),
        ("check-in links", "checkins.CheckInLink", {
            **NEW, "clinic_id": "t.clinic_id", "created_at": "now() - interval '100 days'",
            "patient_id": "t.patient_id", "expires_at": "now() + interval '60 days'",
        }, "taper_taperplan t"),
        # 90 days of check-ins (about one in ten missed); about 6% of plan patients report alcohol once.
        ("check-ins", "checkins.CheckIn", {
            **NEW, "clinic_id": "p.clinic_id",
            "created_at": f"({CLINIC_DAY} - k + time '12:00') AT TIME ZONE c.timezone",
            "patient_id": "p.id", "link_id": "l.id", "local_date": f"{CLINIC_DAY} - k",
            "submitted_at": f"({CLINIC_DAY} - k + time '12:00') AT TIME ZONE c.timezone",
            "dose_status": "'taken_as_planned'", "symptom_form_version": "'1'", "symptom_score": "p.n % 8",
            "sleep_hours": "7.0", "sleep_quality": "'fair'", "anxiety": "p.n % 10", "cravings": "k % 10",
            "alcohol": "(p.n * 13 + k) % 1499 = 0", "other_drugs": "false", "guidance_version": "'1'",
        }, f"{PATIENTS_N} JOIN tenancy_clinic c ON c.id = p.clinic_id "
           "JOIN checkins_checkinlink l ON l.patient_id = p.id CROSS JOIN generate_series(1, 90) AS k "
           "WHERE (p.n * 7 + k) % 10 <> 0"),
    ]  # fmt: skip


AFTER_FILL = [
    "UPDATE taper_taperplan t SET current_version_id = v.id"
    " FROM taper_taperplanversion v WHERE v.plan_id = t.id",
    "UPDATE prescribers_pdmpimport i SET fill_count = d.n, new_fill_count = d.n"
    " FROM (SELECT pdmp_import_id, count(*) AS n FROM prescribers_dispensation GROUP BY 1) d"
    " WHERE d.pdmp_import_id = i.id",
]


# --- measuring ---------------------------------------------------------------------------------------------
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def statement_label(sql: str) -> str:
    """`SELECT prescribers_dispensation`, `INSERT safety_alert`, `SAVEPOINT`…: the verb and first table."""
    words = sql.lstrip(" \n(").split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb == "WITH":  # alerts_raise: WITH new AS (INSERT INTO safety_alert …)
        verb = "WITH INSERT"
    if "set_config" in sql:
        return "set_config (tenant_context)"
    if " UNION " in sql:
        return "SELECT … UNION (patients to sweep)"
    found = _TABLE.search(sql)
    return f"{verb} {found.group(1)}" if found else verb


class Profile:
    """Self time per phase (a phase's time minus its sub-phases'), with the SQL run in each phase apart.

    `wrap(name, fn)` makes every call of fn a phase; the connection's execute_wrapper (`execute`) adds
    each statement's time and count to the innermost phase and its label's totals."""

    def __init__(self) -> None:
        self.stack: list[list] = []  # [name, started, time in sub-phases]
        self.self_s: dict[str, float] = defaultdict(float)
        self.sql_s: dict[str, float] = defaultdict(float)
        self.sql_n: Counter[str] = Counter()
        self.by_label_s: dict[str, float] = defaultdict(float)
        self.by_label_n: Counter[str] = Counter()
        self.statements = 0
        self.trace: list[str] | None = None  # the labels of the statements, while tracing
        self.batch_trace: list[str] = []  # one batch's statements (the first batch of the last clinic)

    @contextmanager
    def phase(self, name: str):
        self.stack.append([name, time.perf_counter(), 0.0])
        try:
            yield
        finally:
            name, started, inner = self.stack.pop()
            elapsed = time.perf_counter() - started
            self.self_s[name] += elapsed - inner
            if self.stack:
                self.stack[-1][2] += elapsed

    def wrap(self, name: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.phase(name):
                return fn(*args, **kwargs)

        return timed

    def execute(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            phase = self.stack[-1][0] if self.stack else "(outside)"
            self.statements += 1
            self.sql_s[phase] += elapsed
            self.sql_n[phase] += 1
            label = statement_label(sql)
            if self.trace is not None:
                self.trace.append(label)
            self.by_label_s[label] += elapsed
            self.by_label_n[label] += 1


TASK_PHASE = "task: clinic lookup, clinic_step transaction"
PHASES = [  # (module, attribute, phase): what the sweep calls, in the order it calls them
    ("safety.corx", "sweep_clinic", "sweep_clinic: its tenant_context, the loop"),
    ("safety.corx", "patients_with_recent_medications", "patients to sweep (one UNION)"),
    ("safety.corx", "clinic_thresholds", "clinic thresholds (settings read)"),
    ("safety.corx", "evaluate_patients", "batch: tenant_context, savepoint"),
    ("safety.corx", "patient_facts", "facts: in-program prescribers, medication_facts, plan"),
    ("safety.corx", "medication_lines", "facts: medication_lines (5 queries + lines)"),
    ("safety.corx", "_alcohol", "facts: alcohol reports (2 queries)"),
    ("safety.corx", "findings_for", "findings: dedup keys, occurred_at"),
    ("prescribers.rules", "evaluate", "rules.evaluate (pure)"),
    ("safety.services", "alerts_raise", "alerts_raise (INSERT … ON CONFLICT, audit)"),
]


@contextmanager
def instrumented(profile: Profile):
    """Wrap the sweep's functions as phases (module attributes, looked up at call time) and every SQL
    statement of the connection; restore both after."""
    import importlib

    from django.db import connection

    saved = []
    for module_name, attr, phase in PHASES:
        module = importlib.import_module(module_name)
        saved.append((module, attr, getattr(module, attr)))
        setattr(module, attr, profile.wrap(phase, getattr(module, attr)))
    try:
        with connection.execute_wrapper(profile.execute):
            yield
    finally:
        for module, attr, original in saved:
            setattr(module, attr, original)


def sweep_once(clinics, now) -> tuple[list[dict], Profile]:
    """Every clinic's sweep, one after the other, as the beat's fan-out runs them on one worker: the body
    of the task `sweep_coprescriptions` (the clinic, then `sweep_clinic` in one `clinic_step` transaction;
    its batches are savepoints)."""
    import safety.corx as corx

    profile = Profile()
    rows = []
    with instrumented(profile):
        for clinic in clinics:
            batch_statements: list[int] = []
            evaluate = corx.evaluate_patients

            def counted(*args, evaluate=evaluate, batch_statements=batch_statements, **kwargs):
                before = profile.statements
                profile.trace = [] if not batch_statements else None
                try:
                    return evaluate(*args, **kwargs)
                finally:
                    batch_statements.append(profile.statements - before)
                    if profile.trace is not None:
                        profile.batch_trace, profile.trace = profile.trace, None

            corx.evaluate_patients = counted
            before = profile.statements
            started = time.perf_counter()
            try:
                raised = Counter()
                # The sweep returns a count; the rule ids of the new alerts come from the raise itself.
                with profile.phase(TASK_PHASE):
                    result = sweep_counting_rules(clinic, now, raised)
            finally:
                corx.evaluate_patients = evaluate
            rows.append(
                {
                    "clinic": clinic.slug,
                    "patients": result["patients"],
                    "batches": result["batches"],
                    "raised": result["raised"],
                    "raised_by_rule": raised,
                    "statements": profile.statements - before,
                    "batch_statements": batch_statements,
                    "sweep_s": time.perf_counter() - started,
                }
            )
    return rows, profile


def sweep_counting_rules(clinic, now, raised: Counter) -> dict:
    """The task body, with the rule ids of the new alerts counted as alerts_raise returns them."""
    import safety.services as services
    from safety import tasks

    alerts_raise = services.alerts_raise

    def raising(*args, **kwargs):
        new = alerts_raise(*args, **kwargs)
        raised.update(alert.rule_id for alert in new)
        return new

    services.alerts_raise = raising
    try:
        return tasks.sweep_coprescriptions.run(clinic.pk, now.isoformat())
    finally:
        services.alerts_raise = alerts_raise


def pure_rules(clinic, now, repeat: int = 3) -> dict:
    """The pure rules alone: one clinic's facts loaded once, then rules.evaluate over every patient."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from clinic.tenancy.context import tenant_context
    from prescribers import rules
    from safety import corx

    zone = ZoneInfo(clinic.timezone)
    today = now.astimezone(zone).date()
    with tenant_context(clinic):
        thresholds = corx.clinic_thresholds()
        since = today - dt.timedelta(days=max(thresholds.recent_days, thresholds.mpe.window_days))
        ids = corx.patients_with_recent_medications(since=since)
        started = time.perf_counter()
        facts = corx.patient_facts(ids, today=today, thresholds=thresholds)  # one batch of all patients
        load_s = time.perf_counter() - started
    timings = []
    findings = 0
    for _ in range(repeat):
        started = time.perf_counter()
        findings = sum(len(rules.evaluate(f, thresholds)) for f in facts)
        timings.append(time.perf_counter() - started)
    profiler = cProfile.Profile()
    profiler.enable()
    for f in facts:
        rules.evaluate(f, thresholds)
    profiler.disable()
    stats = pstats.Stats(profiler)
    top = sorted(
        (
            (tottime, f"{func[2]} ({func[0].rsplit('/', 1)[-1]}:{func[1]})")
            for func, (_, _, tottime, _, _) in stats.stats.items()
        ),
        reverse=True,
    )[:8]
    return {
        "patients": len(facts),
        "medication_facts": sum(len(f.medications) for f in facts),
        "findings": findings,
        "load_s": load_s,
        "evaluate_s": min(timings),
        "top": [(name, tottime / stats.total_tt if stats.total_tt else 0) for tottime, name in top],
    }


def warm_up() -> None:
    """What a worker process loads once, before its first sweep: the modules, the rules data and the
    alert catalogue (so that clinic 1 of run 1 does not pay for it)."""
    from prescribers import rules
    from safety import corx, rules_catalogue, services, tasks  # noqa: F401

    rules.default_thresholds()
    rules_catalogue.rule(rules.rule_ids()[0])


# --- report ------------------------------------------------------------------------------------------------
def report_run(run: int, rows: list[dict], patients_total: int) -> None:
    sweep = sum(r["sweep_s"] for r in rows)
    statements = [r["statements"] for r in rows]
    per_batch = [n for r in rows for n in r["batch_statements"]]
    batches = [r["batches"] for r in rows]
    print(
        f"| {run} | {sum(r['raised'] for r in rows):,} | {sweep * 10_000 / patients_total:.2f} s "
        f"| {statistics.median(r['sweep_s'] for r in rows):.2f} s | {min(statements)}–{max(statements)} "
        f"| {min(batches)}–{max(batches)} | {min(per_batch, default=0)}–{max(per_batch, default=0)} |",
        flush=True,
    )


def report_profile(profile: Profile, total_s: float, title: str) -> None:
    print(f"\n{title}: self time per phase (s, all clinics), of which SQL; statements")
    print("| phase | wall | Python | SQL | statements |")
    print("|---|---|---|---|---|")
    for phase in [TASK_PHASE, *(phase for _, _, phase in PHASES)]:
        wall, sql = profile.self_s.get(phase, 0.0), profile.sql_s.get(phase, 0.0)
        print(f"| {phase} | {wall:.2f} | {wall - sql:.2f} | {sql:.2f} | {profile.sql_n.get(phase, 0)} |")
    print(f"| total | {total_s:.2f} | | {sum(profile.sql_s.values()):.2f} | {profile.statements} |")
    print(f"\nOne batch's {len(profile.batch_trace)} statements: {', '.join(profile.batch_trace)}")
    print("\nSQL by statement (total s, count):")
    for label, seconds in sorted(profile.by_label_s.items(), key=lambda kv: -kv[1]):
        print(f"  {label}: {seconds:.3f} s, {profile.by_label_n[label]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinics", type=int, default=10)
    parser.add_argument("--patients", type=int, default=1000, help="patients per clinic")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--report-kb", type=int, default=20, help="size of each kept PDMP report")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    server_url, bench_url = bench_environment(BENCH_DB, DEBUG="false")
    create_database(server_url, BENCH_DB)
    try:
        migrate()
        import django

        django.setup()
        from django.utils import timezone

        from clinic.tenancy.models import Clinic

        print(f"Filling {args.clinics} clinics x {args.patients} patients:", flush=True)
        started = time.perf_counter()
        make_clinics(args.clinics)
        params = {
            "patients": args.patients,
            "prescribers": PRESCRIBERS,
            "in_program": IN_PROGRAM,
            "pharmacies": PHARMACIES,
            "report_kb": args.report_kb,
        }
        counts = fill(bench_url, fill_statements(), params, after=AFTER_FILL)
        print(f"  (fill and ANALYZE {time.perf_counter() - started:.0f} s)")
        clinics = list(Clinic.objects.filter(slug__startswith="bench-").order_by("slug"))
        total = counts["patients"]
        warm_up()
        now = timezone.now()
        print(
            f"\n{total:,} patients, {counts['dispensations']:,} fills, "
            f"{counts['medication orders']:,} orders, "
            f"{counts['taper plans']:,} taper plans, {counts['check-ins']:,} check-ins; "
            f"now = {now:%Y-%m-%d %H:%M} UTC\n"
        )
        print(
            "| run | alerts raised | sweep per 10,000 patients | median clinic | statements per clinic "
            "| batches per clinic | statements per batch |"
        )
        print("|---|---|---|---|---|---|---|")
        results = []
        for run in range(1, args.runs + 1):
            rows, profile = sweep_once(clinics, now)
            results.append((rows, profile))
            report_run(run, rows, total)
            if run == 1:  # what autovacuum does within a minute of thousands of new alerts
                analyze(bench_url, "safety_alert")
        by_rule: Counter[str] = Counter()
        for row in results[0][0]:
            by_rule.update(row["raised_by_rule"])
        print(f"\nRun 1 alerts by rule: {json.dumps(dict(sorted(by_rule.items())))}")
        for n, (rows, profile) in enumerate(results, 1):
            if n in (1, len(results)):
                report_profile(profile, sum(r["sweep_s"] for r in rows), f"Run {n}")
        pure = pure_rules(clinics[0], now)
        print(
            f"\nPure rules alone, {clinics[0].slug}: {pure['patients']:,} patients, "
            f"{pure['medication_facts']:,} medication facts, {pure['findings']:,} findings; facts loaded in "
            f"{pure['load_s']:.2f} s (one batch), rules.evaluate {pure['evaluate_s']:.2f} s "
            f"({pure['evaluate_s'] / max(pure['patients'], 1) * 1000:.2f} ms per patient)"
        )
        print("  where rules.evaluate spends its time (cProfile self time, share):")
        for name, share in pure["top"]:
            print(f"    {share:5.1%}  {name}")
    finally:
        if args.keep:
            print(f"\nKept the database {BENCH_DB}.")
        else:
            drop_database(server_url, BENCH_DB)


if __name__ == "__main__":
    main()
