"""Ways around the tenant scope may appear only in a short allow-list of modules.

Scans every project .py file (not .venv, not tests) with `ast` for: django-scopes' `scopes_disabled`
and `scope`, the owner-role bypass `owner_connection`, and setting `stepdown.clinic_id` by hand
(`set_config(...)`, `SET [LOCAL] stepdown.…`, or the setting's name as a bare string). Everything else
must go through `tenant_context`.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SKIP_DIRS = {
    ".venv",
    "venv",
    "tests",
    ".git",
    ".data",
    "node_modules",
    "staticfiles",
    "static",
    "build",
    "dist",
}

# Path patterns (relative to the project root) where unscoped access is allowed, and why.
ALLOW_LIST: dict[str, str] = {
    "clinic/tenancy/context.py": "tenant_context itself: the one choke point that enters the scope",
    "clinic/tenancy/maintenance.py": "defines owner_connection, the explicit maintenance bypass",
    "*/management/commands/*.py": "management commands: migrate/flush/verify run as owner, by an operator",
    "demo/*": "demo data loader, run only by the seed command",
    "benchmarks/*": "stand-alone benchmark scripts, never imported by the app",
}

FORBIDDEN_NAMES = {"scopes_disabled", "owner_connection", "_set_db_clinic"}
SCOPES_MODULE = "django_scopes"
SQL_BYPASS = re.compile(r"set_config\s*\(|\bSET\s+(LOCAL\s+|SESSION\s+)?\"?stepdown\.", re.IGNORECASE)
SETTING_NAME = "stepdown.clinic_id"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def scan_source(source: str, path: str) -> list[Finding]:
    findings = []
    tree = ast.parse(source, filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if node.module.startswith(SCOPES_MODULE) and alias.name in ("scopes_disabled", "scope"):
                    findings.append(Finding(path, node.lineno, f"imports {node.module}.{alias.name}"))
                elif alias.name in FORBIDDEN_NAMES:
                    findings.append(Finding(path, node.lineno, f"imports {alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(SCOPES_MODULE):
                    findings.append(Finding(path, node.lineno, f"imports {alias.name}"))
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES | {"scope"}:
            base = ast.unparse(node.value)
            if node.attr != "scope" or SCOPES_MODULE in base:
                findings.append(Finding(path, node.lineno, f"uses {base}.{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            findings.append(Finding(path, node.lineno, f"uses {node.id}"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (SQL_BYPASS.search(node.value) or node.value.strip() == SETTING_NAME)
        ):
            findings.append(Finding(path, node.lineno, "sets stepdown.clinic_id by hand"))
    return sorted(set(findings), key=lambda f: f.line)


def project_files() -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(ROOT):
        # Prune in place so os.walk never descends into the virtualenv or data folders.
        subdirs[:] = [
            d for d in subdirs if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
        ]
        files += [Path(directory, name) for name in names if name.endswith(".py")]
    return files


def allowed(relative: str) -> bool:
    return any(
        Path(relative).match(pattern) or relative.startswith(pattern.rstrip("*")) for pattern in ALLOW_LIST
    )


def test_no_unscoped_access_outside_the_allow_list():
    findings = []
    for path in project_files():
        relative = path.relative_to(ROOT).as_posix()
        if not allowed(relative):
            findings += scan_source(path.read_text(encoding="utf-8"), relative)
    assert not findings, (
        "Unscoped access outside the allow-list (use tenant_context(clinic); if this really is maintenance "
        "code, move it into a management command):\n" + "\n".join(map(str, findings))
    )


def test_scanner_sees_the_files_it_must_guard():
    scanned = {path.relative_to(ROOT).as_posix() for path in project_files()}
    assert {"clinic/tenancy/context.py", "patients/views.py", "api/base.py"} <= scanned
    assert not any(name.startswith(("tests/", ".venv/")) for name in scanned)


def test_scanner_catches_each_bypass():
    source = """
from django_scopes import scopes_disabled
import django_scopes
from clinic.tenancy.maintenance import owner_connection
from clinic.tenancy.context import _set_db_clinic
with django_scopes.scope(clinic=None):
    pass
cursor.execute("SELECT set_config('stepdown.clinic_id', '7', true)")
cursor.execute('SET LOCAL stepdown.clinic_id = 7')
SETTING = "stepdown.clinic_id"
"""
    lines = {finding.line for finding in scan_source(source, "x.py")}
    assert lines == {2, 3, 4, 5, 6, 8, 9, 10}


def test_allow_list_matches_only_what_it_names():
    assert allowed("clinic/tenancy/context.py")
    assert allowed("clinic/audit/management/commands/verify_audit_chain.py")
    assert allowed("demo/data.py")
    assert not allowed("patients/views.py")
    assert not allowed("clinic/tenancy/middleware.py")
    assert not allowed("clinic/tenancy/management/helpers.py")
