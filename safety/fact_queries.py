"""Set-based reads of the facts the safety rules need, shared by the sweep and the on-save evaluation.

Each loader is one SQL statement over one clinic (run inside `tenant_context`, so row-level security
binds it as well as the explicit `clinic_id` filter), optionally narrowed to one patient. The SQL only
pre-selects rows that could fire (using the same thresholds the pure rules apply); the pure rules in
safety/rules/ decide, so the SQL never needs to be the source of truth. No per-patient loop of queries.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from safety.rules.checkins import MISSED_RULE
from safety.rules.facts import CheckInFact, InstrumentScore, Reading, ScorePoint, vital_name
from safety.rules.instruments import instrument_conditions
from safety.rules.policy import policy
from safety.rules.trend import TREND_RULE
from safety.rules.vitals import watched_checks
from taper.engine import Phase
from vitals.thresholds import Thresholds

SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "="}
# VitalValue.kind of each vital name the rules read (the inverse of safety.rules.facts.KIND_TO_VITAL).
_VITAL_TO_KIND = {"body_temperature": "temperature", "body_weight": "weight"}


def _table(app_model: str) -> str:
    from django.apps import apps

    return connection.ops.quote_name(apps.get_model(app_model)._meta.db_table)


def _rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _patient_filter(alias: str, patient_id: uuid.UUID | None, params: list) -> str:
    if patient_id is None:
        return ""
    params.append(patient_id)
    return f" AND {alias}.patient_id = %s"


def _recent_filter(alias: str, since: dt.datetime, until: dt.datetime, object_id, params: list) -> str:
    """Rows written in [since, until], or the one row just saved (whenever it says it was taken)."""
    params += [since, until]
    clause = f"({alias}.created_at >= %s AND {alias}.created_at <= %s)"
    if object_id is not None:
        params.append(object_id)
        clause = f"({clause} OR {alias}.id = %s)"
    return clause


# --- vital readings ----------------------------------------------------------------------------------------
def crossing_readings(
    *,
    clinic_id: int,
    thresholds: Thresholds,
    since: dt.datetime,
    until: dt.datetime,
    patient_id: uuid.UUID | None = None,
    object_id: uuid.UUID | None = None,
) -> list[Reading]:
    """Readings written in the window (or the one just saved) with at least one value past a watched
    threshold, with all their values: one query."""
    checks = watched_checks(thresholds)
    conditions, cond_params = [], []
    for check in checks:
        if check.op not in SQL_OPS or not isinstance(check.value, Decimal):
            raise ValueError(f"threshold check {check.id}: op {check.op!r} cannot be pre-selected in SQL")
        conditions.append(f"(w.kind = %s AND w.value {SQL_OPS[check.op]} %s)")
        cond_params += [_VITAL_TO_KIND.get(check.vital, check.vital), check.value]
    params: list = [clinic_id, clinic_id]
    recent = _recent_filter("r", since, until, object_id, params)
    params += cond_params
    patient = _patient_filter("r", patient_id, params)
    sql = f"""
        SELECT v.reading_id, r.patient_id, r.taken_at, v.kind, v.value
        FROM {_table("vitals.VitalValue")} v
        JOIN {_table("vitals.VitalReading")} r ON r.id = v.reading_id AND r.clinic_id = v.clinic_id
        WHERE v.clinic_id = %s AND r.clinic_id = %s AND {recent}
          AND EXISTS (SELECT 1 FROM {_table("vitals.VitalValue")} w
                      WHERE w.clinic_id = r.clinic_id AND w.reading_id = r.id AND ({" OR ".join(conditions)}))
          {patient}
        ORDER BY r.taken_at, v.reading_id, v.kind
    """  # noqa: S608 - identifiers from model meta, operators from SQL_OPS; every value is a parameter
    readings: dict[uuid.UUID, tuple[uuid.UUID, dt.datetime, dict[str, Decimal]]] = {}
    for reading_id, pid, taken_at, kind, value in _rows(sql, params):
        readings.setdefault(reading_id, (pid, taken_at, {}))[2][vital_name(kind)] = value
    return [Reading(rid, pid, taken_at, values) for rid, (pid, taken_at, values) in readings.items()]


# --- instrument results ------------------------------------------------------------------------------------
def flagged_scores(
    *,
    clinic_id: int,
    since: dt.datetime,
    until: dt.datetime,
    patient_id: uuid.UUID | None = None,
    object_id: uuid.UUID | None = None,
) -> list[InstrumentScore]:
    """Instrument results written in the window (or just saved) meeting an alerting flag rule: one query."""
    conditions, cond_params = [], []
    for cond in instrument_conditions():
        flag = cond.flag
        op = SQL_OPS[flag.op]
        if flag.item is None:
            conditions.append(f"(i.instrument = %s AND i.total {op} %s)")
            cond_params += [cond.instrument, flag.value]
        else:
            # Only numbers compare; anything else in the JSON is skipped rather than failing the sweep.
            conditions.append(
                f"(i.instrument = %s AND (CASE WHEN jsonb_typeof(i.answers -> %s) = 'number' "
                f"THEN (i.answers ->> %s)::numeric END) {op} %s)"
            )
            cond_params += [cond.instrument, flag.item, flag.item, flag.value]
    params: list = [clinic_id]
    recent = _recent_filter("i", since, until, object_id, params)
    params += cond_params
    patient = _patient_filter("i", patient_id, params)
    sql = f"""
        SELECT i.id, i.patient_id, i.instrument, i.total, i.answers, i.completed_at
        FROM {_table("vitals.InstrumentResult")} i
        WHERE i.clinic_id = %s AND {recent} AND ({" OR ".join(conditions)}) {patient}
        ORDER BY i.completed_at, i.id
    """  # noqa: S608
    scores = []
    for rid, pid, instrument, total, answers, completed_at in _rows(sql, params):
        if isinstance(answers, str | bytes):  # Django's psycopg setup hands jsonb back undecoded
            answers = json.loads(answers)
        answers = answers if isinstance(answers, dict) else {}
        clean = {str(k): v for k, v in answers.items() if isinstance(v, int) and not isinstance(v, bool)}
        scores.append(InstrumentScore(rid, pid, instrument, total, clean, completed_at))
    return scores


# --- check-ins ---------------------------------------------------------------------------------------------
def guidance_checkins(
    *,
    clinic_id: int,
    since: dt.datetime,
    until: dt.datetime,
    patient_id: uuid.UUID | None = None,
    object_id: uuid.UUID | None = None,
) -> list[CheckInFact]:
    """Check-ins written in the window (or just saved) whose guidance raises an alert: one query."""
    params: list = [clinic_id, since, object_id]
    recent = _recent_filter("c", since, until, object_id, params)
    params.append(list(policy().guidance_rules))
    patient = _patient_filter("c", patient_id, params)
    # updated_at >= created_at always, and (clinic, updated_at) is indexed: the first condition bounds the
    # scan to recent rows however long the clinic's check-in history grows.
    sql = f"""
        SELECT c.id, c.patient_id, c.local_date, c.submitted_at, c.guidance
        FROM {_table("checkins.CheckIn")} c
        WHERE c.clinic_id = %s AND (c.updated_at >= %s OR c.id = %s::uuid)
          AND {recent} AND c.guidance = ANY(%s) {patient}
        ORDER BY c.submitted_at, c.id
    """  # noqa: S608
    return [CheckInFact(*row) for row in _rows(sql, params)]


# --- missed check-ins --------------------------------------------------------------------------------------
def missed_checkins(
    *, clinic_id: int, days: list[tuple[dt.date, dt.datetime]]
) -> list[tuple[uuid.UUID, dt.date, dt.datetime]]:
    """(patient, local day, cut-off) for every patient enrolled on a day (a link created before the cut-off,
    expiring after it, not revoked by then) with no check-in for it and no alert for it yet: one query."""
    if not days:
        return []
    sql = f"""
        SELECT l.patient_id, d.local_date, d.cutoff_at
        FROM unnest(%s::date[], %s::timestamptz[]) AS d(local_date, cutoff_at)
        JOIN {_table("checkins.CheckInLink")} l
          ON l.clinic_id = %s
         AND l.created_at < d.cutoff_at
         AND l.expires_at > d.cutoff_at
         AND (l.revoked_at IS NULL OR l.revoked_at > d.cutoff_at)
        WHERE NOT EXISTS (
                SELECT 1 FROM {_table("checkins.CheckIn")} c
                WHERE c.clinic_id = l.clinic_id AND c.patient_id = l.patient_id
                  AND c.local_date = d.local_date)
          AND NOT EXISTS (
                SELECT 1 FROM {_table("safety.Alert")} a
                WHERE a.clinic_id = l.clinic_id
                  AND a.dedup_key = %s::text || ':' || l.patient_id::text
                                    || ':' || to_char(d.local_date, 'YYYY-MM-DD'))
        GROUP BY l.patient_id, d.local_date, d.cutoff_at
        ORDER BY d.local_date, l.patient_id
    """  # noqa: S608
    params = [[d for d, _ in days], [c for _, c in days], clinic_id, MISSED_RULE]
    return _rows(sql, params)


# --- trend after a reduction step --------------------------------------------------------------------------
@dataclass(frozen=True)
class StepScores:
    patient_id: uuid.UUID
    step_start: dt.date
    step: dict[str, str]
    series: dict[str, list[ScorePoint]]


TREND_SERIES_SQL = {
    "ciwa_b": """
        SELECT s.patient_id, s.start, s.idx, s.daily_de_mg, 'ciwa_b' AS series,
               (i.completed_at AT TIME ZONE %(tz)s::text)::date AS day, i.total AS value,
               i.id AS source_id, i.completed_at AS at
        FROM steps s JOIN {results} i
          ON i.clinic_id = %(clinic)s AND i.patient_id = s.patient_id AND i.instrument = 'ciwa_b'
         AND i.completed_at >= ((s.start - %(n)s::int)::timestamp AT TIME ZONE %(tz)s::text)
         AND i.completed_at < ((s.start + %(n)s::int)::timestamp AT TIME ZONE %(tz)s::text)
         AND i.completed_at >= ((%(earliest)s::date - %(n)s::int)::timestamp AT TIME ZONE %(tz)s::text)""",
    "checkin_symptoms": """
        SELECT s.patient_id, s.start, s.idx, s.daily_de_mg, 'checkin_symptoms' AS series,
               c.local_date AS day, c.symptom_score AS value, c.id AS source_id, c.submitted_at AS at
        FROM steps s JOIN {checkins} c
          ON c.clinic_id = %(clinic)s AND c.patient_id = s.patient_id
         AND c.local_date >= s.start - %(n)s::int AND c.local_date < s.start + %(n)s::int
         -- the same, as constants: an index range over recent days, not the clinic's whole history
         AND c.local_date >= %(earliest)s::date - %(n)s::int AND c.local_date <= %(today)s::date""",
}


def trend_candidates(
    *,
    clinic_id: int,
    tz: str,
    today: dt.date,
    lookback_days: int,
    patient_id: uuid.UUID | None = None,
    prefilter: bool = True,
) -> list[StepScores]:
    """For each patient whose active plan's latest reduction step started recently enough for its
    after-window to reach into the look-back (and has no trend alert yet), the scores of both windows:
    one query.

    With `prefilter` (the default) the SQL also sums and counts each window and returns the scores only
    of patients for whom some series meets the rule (min_rise * n_b * n_a <= sum_a * n_b - sum_b * n_a, exact
    numeric arithmetic, the same comparison the pure rule makes with fractions); the pure rule then
    decides on those scores and writes the evidence. Without it, every candidate's scores come back
    (the tests compare the two)."""
    trend = policy().trend
    unknown = {s.id for s in trend.series} - set(TREND_SERIES_SQL)
    if unknown:
        raise ValueError(f"withdrawal_trend_rising: no SQL source for series {sorted(unknown)}")
    n = trend.window_days
    params = {
        "clinic": clinic_id,
        "tz": tz,
        "today": today,
        "earliest": today - dt.timedelta(days=n - 1 + lookback_days),
        "n": n,
        "skip_held": trend.skip_when_plan_held,
        "rule": TREND_RULE,
        "patient": patient_id,
        "reduction": Phase.REDUCTION.value,
        "active": "active",  # TaperPlan.Status.ACTIVE
        "series_ids": [s.id for s in trend.series],
        "min_rise": [s.min_rise for s in trend.series],
        "min_before": [s.min_before for s in trend.series],
        "min_after": [s.min_after for s in trend.series],
    }
    series_sql = "\nUNION ALL\n".join(
        TREND_SERIES_SQL[s.id].format(
            results=_table("vitals.InstrumentResult"), checkins=_table("checkins.CheckIn")
        )
        for s in trend.series
    )
    rising = (
        """
        WHERE pt.patient_id IN (
            SELECT g.patient_id
            FROM (SELECT patient_id, series,
                         count(*) FILTER (WHERE day < start) AS n_b,
                         sum(value) FILTER (WHERE day < start) AS s_b,
                         count(*) FILTER (WHERE day >= start) AS n_a,
                         sum(value) FILTER (WHERE day >= start) AS s_a
                  FROM points GROUP BY patient_id, series) g
            JOIN unnest(%(series_ids)s::text[], %(min_rise)s::numeric[], %(min_before)s::int[],
                        %(min_after)s::int[]) AS r(series, min_rise, min_before, min_after)
              ON r.series = g.series
            WHERE g.n_b >= r.min_before AND g.n_a >= r.min_after
              AND g.s_a * g.n_b - g.s_b * g.n_a >= r.min_rise * g.n_a * g.n_b)
    """
        if prefilter
        else ""
    )
    sql = f"""
        WITH latest AS (
            SELECT DISTINCT ON (p.patient_id) p.patient_id, st.start, st.index AS idx, st.daily_de_mg
            FROM {_table("taper.TaperPlan")} p
            JOIN {_table("taper.TaperStep")} st
              ON st.clinic_id = p.clinic_id AND st.version_id = p.current_version_id
            WHERE p.clinic_id = %(clinic)s AND p.status = %(active)s::text
              AND (NOT %(skip_held)s::boolean OR p.held_since IS NULL)
              AND st.phase = %(reduction)s::text AND st.start <= %(today)s::date
              AND (%(patient)s::uuid IS NULL OR p.patient_id = %(patient)s::uuid)
            ORDER BY p.patient_id, st.start DESC, st.index DESC
        ), steps AS (
            SELECT * FROM latest l
            WHERE l.start >= %(earliest)s::date
              AND NOT EXISTS (
                SELECT 1 FROM {_table("safety.Alert")} a
                WHERE a.clinic_id = %(clinic)s
                  AND a.dedup_key = %(rule)s::text || ':' || l.patient_id::text
                                    || ':' || to_char(l.start, 'YYYY-MM-DD'))
        ), points AS MATERIALIZED (
            SELECT * FROM ({series_sql}) AS u WHERE u.day <= %(today)s::date
        )
        SELECT pt.patient_id, pt.start, pt.idx, pt.daily_de_mg, pt.series, pt.day, pt.value,
               pt.source_id, pt.at
        FROM points pt
        {rising}
        ORDER BY 1, 5, 6, 9
    """  # noqa: S608
    grouped: dict[uuid.UUID, StepScores] = {}
    for pid, start, idx, de_mg, series, day, value, source_id, at in _rows(sql, params):
        entry = grouped.get(pid)
        if entry is None:
            step = {"index": str(idx), "daily_de_mg": str(de_mg)}
            entry = grouped[pid] = StepScores(pid, start, step, defaultdict(list))
        entry.series[series].append(ScorePoint(day, Decimal(value), source_id, at))
    return list(grouped.values())
