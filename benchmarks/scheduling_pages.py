"""How fast the scheduling pages are in a large clinic: a year of sessions and 5,000 patients.

    python benchmarks/scheduling_pages.py [--patients 5000] [--series 60] [--requests 30] [--keep]

Creates its own database `stepdown_bench_sched` (owner role; development settings), migrates it and fills
one clinic set-based (benchmarks/_bench_db.py): 20 clinicians and 20 rooms, four programs, `--series`
weekly groups (Mon/Wed/Fri at 9:00, 13:00 or 18:00, each clinician in their own room) that began 365 days
ago and are materialised to the 56-day horizon; every patient on one group's roster in 8-week cohorts (six
cohorts a group), booked into each of their cohort's sessions, with attendance taken for the past ones
(mostly present; some late, left early, absent, excused) and the note signed.

Then, as the application role (row-level security on) through Django's test client signed in as the
first clinician, it requests each page `--requests` times and reports p50 / p95 milliseconds and SQL
statements per request: the clinician's week view, the day view, a group's page (its roster), a session's
page, the attendance page, a patient's schedule and hours pages. Numbers go in benchmarks/README.md,
never in asserts. DEBUG is off. The bench database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from _bench_db import NEW, bench_environment, create_database, drop_database, fill, migrate

BENCH_DB = "stepdown_bench_sched"
CLINICIANS = 20
SLOTS = ((dt.time(9, 0), 180), (dt.time(13, 0), 180), (dt.time(18, 0), 120))
COHORT_DAYS = 56
COHORTS = 6


def setup_clinic(series_count: int, today: dt.date):
    """The clinic, its people, rooms, programs and series (ORM: a few hundred rows)."""
    from clinic.accounts.models import User
    from clinic.tenancy.context import tenant_context
    from clinic.tenancy.models import Clinic, Membership
    from scheduling import recurrence
    from scheduling.models import Program, Room, SessionSeries
    from scheduling.services import session_types_ensure

    clinic = Clinic.objects.create(
        slug="bench-sched", name="Bench scheduling clinic", timezone="America/New_York"
    )
    people = []
    for n in range(CLINICIANS):
        user = User.objects.create_user(
            email=f"clin{n}@bench.example.org", password="x", full_name=f"Clinician {n}"
        )
        Membership.objects.create(user=user, clinic=clinic, roles=["clinician"])
        people.append(user)
    with tenant_context(clinic):
        kinds = {t.code: t for t in session_types_ensure()}
        rooms = [Room.objects.create(name=f"Room {n}", capacity=20) for n in range(CLINICIANS)]
        programs = [
            Program.objects.create(name=name, level=level, hours_min=low, hours_below=high)
            for name, level, low, high in (
                ("PHP days", "php", 20, None),
                ("IOP days", "iop", 9, 20),
                ("IOP evening", "iop", 9, 20),
                ("Outpatient", "op", None, 9),
            )
        ]
        codes = ["dbt_skills", "relapse_prevention", "peer_support", "family_education"]
        start = today - dt.timedelta(days=365)
        rows = []
        for k in range(series_count):
            slot_time, minutes = SLOTS[(k // CLINICIANS) % len(SLOTS)]
            pattern = recurrence.WeeklyPattern(
                weekdays=(0, 2, 4), start=slot_time, minutes=minutes, starts_on=start
            )
            rows.append(
                SessionSeries(
                    clinic=clinic,  # bulk_create skips TenantModel.save()
                    program=programs[k % len(programs)],
                    session_type=kinds[codes[k % len(codes)]],
                    title=f"Group {k:03d}",
                    facilitator=people[k % CLINICIANS],
                    room=rooms[k % CLINICIANS],
                    weekdays=[0, 2, 4],
                    start_time=slot_time,
                    minutes=minutes,
                    starts_on=start,
                    rrule=recurrence.rrule_text(pattern),
                    capacity=20,
                    materialised_through=today + dt.timedelta(days=56),
                )
            )
        SessionSeries.objects.bulk_create(rows)
    return clinic, people


def fill_statements() -> list:
    # Patient number g from the MRN, group number k from the title: the joins below pair them.
    patient_no = "substring(p.mrn from 4)::int"
    group_no = "substring(o.title from 7)::int"
    cohort_of_day = f"((o.local_date - {{start}}::date) / {COHORT_DAYS}) % {COHORTS}"
    return [
        ("patients", "patients.Patient", {
            **NEW, "clinic_id": "c.id", "mrn": "'SD-' || lpad(g::text, 6, '0')", "first_name": "'Bench'",
            "last_name": "'Patient' || g", "date_of_birth": "date '1960-01-01' + (g * 37) % 15000",
            "status": "'active'",
        }, "tenancy_clinic c CROSS JOIN generate_series(1, {patients}) AS g WHERE c.slug = 'bench-sched'"),
        ("occurrences", "scheduling.Occurrence", {
            **NEW, "clinic_id": "s.clinic_id", "series_id": "s.id",
            "series_slot": "(d::date + s.start_time) AT TIME ZONE c.timezone",
            "program_id": "s.program_id", "session_type_id": "s.session_type_id", "title": "s.title",
            "facilitator_id": "s.facilitator_id", "room_id": "s.room_id",
            "starts_at": "(d::date + s.start_time) AT TIME ZONE c.timezone",
            "ends_at": "(d::date + s.start_time) AT TIME ZONE c.timezone + s.minutes * interval '1 minute'",
            "local_date": "d::date", "capacity": "s.capacity", "status": "'scheduled'", "detached": "false",
        }, "scheduling_sessionseries s JOIN tenancy_clinic c ON c.id = s.clinic_id "
           "CROSS JOIN generate_series(s.starts_on, s.materialised_through, interval '1 day') AS d "
           "WHERE (extract(isodow FROM d)::int - 1) = ANY(s.weekdays)"),
        ("members", "scheduling.SeriesMember", {
            **NEW, "clinic_id": "s.clinic_id", "series_id": "s.id", "patient_id": "p.id",
            "from_date": f"{{start}}::date + ({patient_no} / {{series}}) % {COHORTS} * {COHORT_DAYS}",
            "until_date": f"{{start}}::date + (({patient_no} / {{series}}) % {COHORTS} + 1) * {COHORT_DAYS}"
                          " - 1",
        }, f"patients_patient p JOIN scheduling_sessionseries s ON s.clinic_id = p.clinic_id "
           f"AND substring(s.title from 7)::int = {patient_no} % {{series}}"),
        ("bookings", "scheduling.Booking", {
            **NEW, "clinic_id": "o.clinic_id", "occurrence_id": "o.id", "patient_id": "p.id",
            "status": "'booked'", "starts_at": "o.starts_at", "ends_at": "o.ends_at",
            "attendance": "CASE WHEN o.local_date >= {today} THEN '' "
                          "WHEN (hashtext(p.id::text || o.id::text) & 1023) < 870 THEN 'present' "
                          "WHEN (hashtext(p.id::text || o.id::text) & 1023) < 920 THEN 'late' "
                          "WHEN (hashtext(p.id::text || o.id::text) & 1023) < 950 THEN 'left_early' "
                          "WHEN (hashtext(p.id::text || o.id::text) & 1023) < 990 THEN 'absent' "
                          "ELSE 'excused' END",
            "minutes_attended": "CASE WHEN o.local_date >= {today} THEN NULL "
                                "WHEN (hashtext(p.id::text || o.id::text) & 1023) < 870 "
                                "THEN extract(epoch FROM o.ends_at - o.starts_at)::int / 60 "
                                "WHEN (hashtext(p.id::text || o.id::text) & 1023) < 950 "
                                "THEN extract(epoch FROM o.ends_at - o.starts_at)::int / 120 ELSE 0 END",
            "note_line": "CASE WHEN o.local_date < {today} THEN 'Bench line for patient ' || p.mrn || "
                         "' on ' || o.local_date ELSE '' END",
        }, f"scheduling_occurrence o JOIN patients_patient p ON p.clinic_id = o.clinic_id "
           f"AND {patient_no} % {{series}} = {group_no} "
           f"AND ({patient_no} / {{series}}) % {COHORTS} = {cohort_of_day}"),
        ("notes", "scheduling.SessionNote", {
            **NEW, "clinic_id": "o.clinic_id", "occurrence_id": "o.id",
            "summary": "'Bench summary ' || o.title",
            "author_id": "o.facilitator_id", "signed_by_id": "o.facilitator_id", "signed_at": "o.ends_at",
        }, "scheduling_occurrence o WHERE o.local_date < {today}"),
    ]  # fmt: skip


def time_pages(client, pages: list[tuple[str, str]], requests: int) -> None:
    from django.db import connection

    print("| page | p50 ms | p95 ms | statements | bytes |")
    print("|---|---|---|---|---|")
    counted: list[int] = []

    def count(execute, sql, params, many, context):
        counted.append(1)
        return execute(sql, params, many, context)

    for label, url in pages:
        timings, statements, size = [], 0, 0
        for n in range(requests + 2):  # two warm-up requests
            counted.clear()
            with connection.execute_wrapper(count):
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{label}: {url} answered {response.status_code}")
            if n >= 2:
                timings.append(elapsed * 1000)
                statements, size = len(counted), len(response.content)
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        print(
            f"| {label} | {statistics.median(timings):.0f} | {p95:.0f} | {statements} | {size:,} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--series", type=int, default=60)
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
        from django.urls import NoReverseMatch, reverse

        from clinic.tenancy.context import tenant_context
        from scheduling.models import Booking, Occurrence, SessionSeries

        today = dt.date.today()
        started = time.perf_counter()
        clinic, people = setup_clinic(args.series, today)
        params = {
            "patients": args.patients,
            "series": args.series,
            "start": today - dt.timedelta(days=365),
            "today": today,
        }
        counts = fill(bench_url, fill_statements(), params, reads=["scheduling.SessionSeries"])
        print(f"  (fill and ANALYZE {time.perf_counter() - started:.0f} s)\n")
        with tenant_context(clinic):
            group = SessionSeries.objects.order_by("title").first()
            session = Occurrence.objects.filter(series=group, local_date__lte=today).latest("starts_at")
            patient_id = (
                Booking.objects.filter(occurrence=session).values_list("patient_id", flat=True).first()
            )
        client = Client()
        client.force_login(people[0])
        slug = clinic.slug

        def url(name: str, **kwargs) -> str | None:
            try:
                return reverse(f"scheduling:{name}", kwargs={"clinic_slug": slug, **kwargs})
            except NoReverseMatch:  # a page this build does not have
                return None

        week, day = url("week"), url("day")
        pages = [
            ("clinician week view", week and f"{week}?clinician={people[0].pk}&date={today}"),
            ("day view (everyone)", day and f"{day}?date={today}"),
            ("group page (roster)", url("series", series_id=group.pk)),
            ("session page", url("occurrence", occurrence_id=session.pk)),
            ("attendance page", url("attendance", occurrence_id=session.pk)),
            ("patient schedule", url("patient-schedule", patient_id=patient_id)),
            ("patient hours", url("patient-hours", patient_id=patient_id)),
        ]
        print(
            f"{counts['patients']:,} patients, {counts['occurrences']:,} sessions, "
            f"{counts['bookings']:,} bookings, {counts['notes']:,} signed notes\n"
        )
        time_pages(client, [(label, href) for label, href in pages if href], args.requests)
    finally:
        if not args.keep:
            drop_database(server_url, BENCH_DB)


if __name__ == "__main__":
    main()
