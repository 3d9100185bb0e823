"""Every API list's first page is read off an index that leads with the clinic and carries the page order.

The page's own SQL is captured while an API client requests it, then EXPLAINed in the same clinic (same
RLS setting, same scope filter). The test tables hold a handful of rows, where the planner would rightly
seq-scan and sort whatever indexes exist; so the plan is asked for with `enable_seqscan` and `enable_sort`
off. Those settings only make the other plans expensive, they cannot make one appear: without an index
that gives (clinic_id = X, ordering…) the plan keeps its Sort over every clinic row and the test fails. At
5,000 patients in each of 20 clinics that sort was 420 ms a check-in page; the index scan is 12 ms.

Generated from the API routes: a new list is a new test id.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api.services import api_client_create
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.clinic.tenancy.routes import API_ROUTES

# The `.json` suffix routes run the same query as their list.
LIST_ROUTES = [
    route for route in API_ROUTES if route.actions.get("get") == "list" and "format" not in route.kwargs
]
SORTS = {"Sort", "Incremental Sort"}
INDEX_SCANS = {"Index Scan", "Index Only Scan"}


def test_list_routes_are_found():
    names = {route.viewset.model._meta.db_table for route in LIST_ROUTES}
    assert {"checkins_checkin", "patients_patient", "safety_alert"} <= names


def _page_query(queries, table: str) -> str:
    """The page's SELECT: from the model's table, ordered, limited (prefetches and audit writes are not)."""
    pages = [
        query["sql"]
        for query in queries
        if query["sql"].startswith("SELECT")
        and f'FROM "{table}"' in query["sql"]
        and " ORDER BY " in query["sql"]
        and " LIMIT " in query["sql"]
    ]
    assert len(pages) == 1, pages
    return pages[0]


def _main_path(node: dict):
    """The nodes that produce the page's rows, top down: subplans and init plans (annotations) are not."""
    yield node
    for child in node.get("Plans", ()):
        if child.get("Parent Relationship") not in ("SubPlan", "InitPlan"):
            yield from _main_path(child)


def _first_column(index_name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] WHERE i.relname = %s",
            [index_name],
        )
        return cursor.fetchone()[0]


def page_plan(clinic, sql: str) -> dict:
    with tenant_context(clinic), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)"
        )
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0][0]["Plan"]
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'on', true), set_config('enable_sort', 'on', true)"
        )
    return plan


def plan_refusal(plan: dict, table: str) -> str | None:
    """Why this plan does not serve the page off a clinic-led index, or None when it does."""
    path = list(_main_path(plan))
    sorts = [node for node in path if node["Node Type"] in SORTS]
    if sorts:
        return f"sorts ({sorts[0].get('Sort Key')}) instead of reading an index in page order"
    scans = [node for node in path if node.get("Relation Name") == table]
    if len(scans) != 1 or scans[0]["Node Type"] not in INDEX_SCANS:
        return f"reads {table} by {[node['Node Type'] for node in scans]}, not one index scan"
    index = scans[0]["Index Name"]
    if _first_column(index) != "clinic_id" or "clinic_id" not in scans[0].get("Index Cond", ""):
        return f"{index} does not lead with clinic_id (cond {scans[0].get('Index Cond')!r})"
    return None


@pytest.mark.django_db
@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_first_page_reads_a_clinic_led_index_in_page_order(route, clinic_a):
    with tenant_context(clinic_a):
        # The clinic's own system (not an outside recipient): the plain list, no Part 2 disclosure filter.
        _, token = api_client_create(actor=None, name="Plan probe", roles=list(Role))
    table = route.viewset.model._meta.db_table
    url = route.url()
    with CaptureQueriesContext(connection) as queries:
        response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(url, {"page_size": 50})
    assert response.status_code == 200, response.content[:300]
    sql = _page_query(queries.captured_queries, table)
    plan = page_plan(clinic_a, sql)
    assert plan_refusal(plan, table) is None, (plan_refusal(plan, table), sql)
