"""The plan builder's form state: plan fields, regimen lines and holds, bound from a POST or not.

A POST may be a line edit (add/remove a line or a hold: re-rendered, nothing validated), a request for
the preview, an alternative's changes applied ("key=value;key=value" from a refusal's buttons), or a
save; `Builder` sorts that out so the views in `views_builder` only decide what to render. Service errors
land on the field, the regimen or the holds they are about.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict

from clinic.tenancy.roles import Perm
from taper import forms as taper_forms
from taper.engine_adapter import PlanInput, PlanRefused

LINE_FIELDS = ("drug", "dose_mg", "time_of_day", "form")
HOLD_FIELDS = ("on_date", "days")
# What an alternative's button may change on the builder (taper/alternatives.py `changes`).
APPLICABLE = {"strategy", "liquid", "rate_percent", "interval_days", "min_switch_days"}
APPLICABLE_BY_PSYCHIATRIST = {"override_steps"}


def is_psychiatrist(request: HttpRequest) -> bool:
    return request.membership.allows(Perm.TAPER_APPROVE)


def _applied(post: QueryDict, *, psychiatrist: bool) -> tuple[QueryDict, str]:
    """The builder's POST with an alternative's changes ("key=value;key=value") applied, and what changed."""
    allowed = APPLICABLE | (APPLICABLE_BY_PSYCHIATRIST if psychiatrist else set())
    data = post.copy()
    changed = []
    for part in (post.get("apply") or "").split(";"):
        key, _, value = part.partition("=")
        if key in allowed and value:
            data[key] = value
            changed.append(key)
    return data, ",".join(changed)


def _rows_from(data: QueryDict, prefix: str, fields: tuple[str, ...], limit: int) -> list[dict[str, str]]:
    try:
        total = min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), limit)
    except ValueError:
        total = 0
    rows = []
    for i in range(max(total, 0)):
        rows.append({name: (data.get(f"{prefix}-{i}-{name}") or "").strip() for name in fields})
    return rows


def _blank_line(row: dict[str, str]) -> bool:
    return not row.get("drug") and not row.get("dose_mg")


def _blank_hold(row: dict[str, str]) -> bool:
    return not row.get("on_date") and not row.get("days")


def _formset_data(prefix: str, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for name, value in row.items():
            data[f"{prefix}-{i}-{name}"] = value
    return data


class Builder:
    """The builder's three forms (plan fields, regimen lines, holds), bound or not, plus the line edits
    (add/remove a line or a hold) that re-render the page without validating anything."""

    def __init__(
        self,
        request: HttpRequest,
        *,
        initial: dict[str, Any],
        lines: list[dict[str, str]],
        holds: list[dict[str, str]],
        editing: bool,
        bind: bool,
    ) -> None:
        self.request = request
        self.editing = editing
        self.refusal: PlanRefused | None = None
        psychiatrist = is_psychiatrist(request)
        # The table a non-psychiatrist cannot change comes from `initial`, never from the request.
        fixed = {"table": initial["table"]}
        self.fixed_table = initial["table"]
        post = request.POST
        self.applied = ""
        if request.method == "POST" and post.get("apply"):
            post, self.applied = _applied(post, psychiatrist=psychiatrist)
        self.data = post
        if request.method == "POST":
            lines = _rows_from(post, taper_forms.REGIMEN_PREFIX, LINE_FIELDS, taper_forms.MAX_LINES)
            holds = _rows_from(post, taper_forms.HOLD_PREFIX, HOLD_FIELDS, taper_forms.MAX_HOLDS)
            self.changed = self._edit_rows(post, lines, holds)
            if self.changed:
                bind = False
                initial = {
                    **initial,
                    **{k: v for k, v in post.items() if k in taper_forms.PlanForm.base_fields},
                }
                initial.update(fixed)
        else:
            self.changed = False
        if bind:
            post = self.data
            lines = [r for r in lines if not _blank_line(r)] or lines[:1]
            holds = [r for r in holds if not _blank_hold(r)]
            data = {k: v for k, v in post.items() if not k.startswith(("line-", "hold-"))}
            data.update(_formset_data(taper_forms.REGIMEN_PREFIX, lines))
            data.update(_formset_data(taper_forms.HOLD_PREFIX, holds))
            self.form = taper_forms.PlanForm(data, initial=fixed, psychiatrist=psychiatrist, editing=editing)
            self.lines = taper_forms.RegimenFormSet(data, prefix=taper_forms.REGIMEN_PREFIX)
            self.holds = taper_forms.HoldFormSet(data, prefix=taper_forms.HOLD_PREFIX)
        else:
            self.form = taper_forms.PlanForm(initial=initial, psychiatrist=psychiatrist, editing=editing)
            self.lines = taper_forms.RegimenFormSet(initial=lines, prefix=taper_forms.REGIMEN_PREFIX)
            self.holds = taper_forms.HoldFormSet(initial=holds, prefix=taper_forms.HOLD_PREFIX)

    @staticmethod
    def _edit_rows(post: QueryDict, lines: list, holds: list) -> bool:
        if "add_line" in post and len(lines) < taper_forms.MAX_LINES:
            lines.append({"drug": lines[-1]["drug"] if lines else "", "dose_mg": "", "time_of_day": ""})
            return True
        if "add_hold" in post and len(holds) < taper_forms.MAX_HOLDS:
            holds.append({"on_date": "", "days": ""})
            return True
        for key, rows in (("remove_line", lines), ("remove_hold", holds)):
            if key in post:
                with contextlib.suppress(ValueError, IndexError):
                    del rows[int(post[key])]
                if key == "remove_line" and not rows:
                    rows.append({"drug": "", "dose_mg": "", "time_of_day": ""})
                return True
        return "add_line" in post or "add_hold" in post

    def is_valid(self) -> bool:
        valid = [self.form.is_valid(), self.lines.is_valid(), self.holds.is_valid()]
        return all(valid)

    def plan_input(self) -> PlanInput:
        return taper_forms.plan_input(self.form, self.lines, self.holds)

    def apply(self, error: ValidationError) -> None:
        """A service error onto the form, the regimen or the holds, wherever it belongs."""
        if not hasattr(error, "error_dict"):
            self.form.add_error(None, error.messages)
            return
        for field, problems in error.message_dict.items():
            if field == "regimen":
                self.lines.non_form_errors().extend(problems)
            elif field == "holds":
                self.holds.non_form_errors().extend(problems)
            elif field in self.form.fields:
                self.form.add_error(field, problems)
            else:
                self.form.add_error(None, problems)

    def errors(self) -> list[tuple[str, str, str]]:
        """(label, message, anchor) for the error summary and the preview."""
        out: list[tuple[str, str, str]] = []
        if not self.form.is_bound:
            return out
        for message in self.form.non_field_errors():
            out.append(("", message, "plan-form"))
        for message in self.lines.non_form_errors():
            out.append(("Current regimen", message, "regimen"))
        for i, line in enumerate(self.lines.forms):
            for name, problems in line.errors.items():
                label = line.fields[name].label if name in line.fields else ""
                for message in problems:
                    out.append((f"Line {i + 1}, {label.lower()}", message, line[name].id_for_label))
        for message in self.holds.non_form_errors():
            out.append(("Holds", message, "holds"))
        for i, hold in enumerate(self.holds.forms):
            for name, problems in hold.errors.items():
                for message in problems:
                    out.append((f"Hold {i + 1}", message, hold[name].id_for_label))
        for field in self.form:
            for message in field.errors:
                out.append((field.label, message, field.id_for_label))
        return out
