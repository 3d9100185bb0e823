"""Imports flow one way: a module may import its own layer and the layers below it, never one above.

    clinic <- patients <- {taper, vitals, prescribers, scheduling} <- vitals.checkins <- safety
           <- {api, workspace} <- demo

`clinic`'s composition roots (settings, urls, celery, wsgi, asgi) name apps by string or autodiscovery,
so they are scanned like the rest of `clinic`. A lower layer that must react to a higher one sends a
signal (see `vitals/signals.py`); it never imports upward, not even lazily inside a function or behind
`try/except ImportError`. Pure modules (clinical math, tables) import no Django at all.

Every import statement counts: top-level, inside functions, under `TYPE_CHECKING`. A new layer (app) is
one line in `LAYERS`; there is no allow-list of exceptions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("clinic",),
    ("patients",),
    ("taper", "vitals", "prescribers", "scheduling"),
    ("vitals.checkins",),
    ("safety",),
    ("api", "workspace"),
    ("demo",),
]

# Modules with clinical math or tables: plain data in, plain data out, testable without a database.
PURE_MODULES = [
    "taper/engine.py",
    "taper/errors.py",
    "taper/catalogue.py",
    "taper/dosing.py",
    "taper/policy.py",
    "taper/alternatives.py",
    "taper/patient_wording.py",
    "vitals/scoring.py",
    "vitals/errors.py",
    "vitals/classification.py",
    "vitals/thresholds.py",
    "vitals/checkins/rules.py",
    "safety/rules/*.py",
    "safety/findings.py",
    "patients/consent/rules.py",
    "patients/insurance/rules.py",
    "patients/intake/asam.py",
    "patients/eligibility/x12/*.py",
    "patients/eligibility/response.py",
    "patients/eligibility/inquiry.py",
    "clinic/charts.py",
    "clinic/date_bounds.py",
    "clinic/audit/chain.py",
    "clinic/audit/verify.py",
    "clinic/audit/signing.py",
    "prescribers/drugs.py",
    "prescribers/identifiers.py",
    "prescribers/mme.py",
    "prescribers/rules.py",
    "prescribers/pdmp/*.py",
    "prescribers/timeline.py",
    "scheduling/recurrence.py",
    "scheduling/levels.py",
    "scheduling/hours.py",
    "scheduling/stepdown.py",
    "scheduling/hours_chart.py",
]
FRAMEWORKS = ("django", "rest_framework", "celery", "django_scopes", "allauth")


def _package_names() -> set[str]:
    return {prefix.split(".")[0] for layer in LAYERS for prefix in layer}


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if module == prefix or module.startswith(prefix + "."):
                length = prefix.count(".") + 1
                if best is None or length > best[0]:
                    best = (length, index)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from taper import services` names a submodule: judge the submodule, not the package.
            found.extend((node.lineno, _submodule_or_package(target, alias.name)) for alias in node.names)
    return sorted(set(found))


def _submodule_or_package(package: str, name: str) -> str:
    path = ROOT.joinpath(*package.split("."), name)
    return f"{package}.{name}" if path.with_suffix(".py").exists() or path.is_dir() else package


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported} ({self.why})"


def project_files() -> list[Path]:
    files = []
    for package in sorted(_package_names()):
        base = ROOT / package
        if base.is_dir():
            files.extend(p for p in base.rglob("*.py") if "migrations" not in p.parts)
    return files


def layer_violations(files: list[Path]) -> list[Violation]:
    violations = []
    for path in files:
        module = module_name(path)
        own = layer_of(module)
        if own is None:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, imported in imported_modules(tree, module, path.name == "__init__.py"):
            target = layer_of(imported)
            if target is not None and target > own:
                above = f"{', '.join(LAYERS[target])} sits above"
                violations.append(Violation(str(path.relative_to(ROOT)), line, imported, above))
    # One line per (file, imported module): `from x import a, b` is one upward import, not three.
    return sorted(set(violations), key=lambda v: (v.path, v.line, v.imported))


def pure_violations() -> list[Violation]:
    violations = []
    for pattern in PURE_MODULES:
        matches = sorted(ROOT.glob(pattern))
        assert matches, f"{pattern} names no file: the pure-module list is out of date"
        for path in matches:
            module = module_name(path)
            tree = ast.parse(path.read_text(), filename=str(path))
            for line, imported in imported_modules(tree, module, path.name == "__init__.py"):
                if imported.split(".")[0] in FRAMEWORKS:
                    violations.append(Violation(str(path.relative_to(ROOT)), line, imported, "pure module"))
                elif layer_of(imported) is not None and not _is_pure(imported):
                    violations.append(
                        Violation(str(path.relative_to(ROOT)), line, imported, "pure module imports app code")
                    )
    return sorted(set(violations), key=lambda v: (v.path, v.line, v.imported))


def _is_pure(module: str) -> bool:
    """An app module a pure module may import: another pure module, or a package's __init__ chain."""
    path = ROOT / Path(*module.split("."))
    candidates = [path.with_suffix(".py"), path / "__init__.py"]
    for candidate in candidates:
        if candidate.exists():
            rel = str(candidate.relative_to(ROOT))
            if candidate.name == "__init__.py" and not candidate.read_text().strip():
                return True
            return any(Path(rel).match(pattern) for pattern in PURE_MODULES)
    # `from taper import engine` also yields "taper.engine.<name>": a name inside a module, judged already.
    parent = module.rpartition(".")[0]
    return not parent or _is_pure(parent)


def test_imports_flow_down_the_layers():
    violations = layer_violations(project_files())
    assert not violations, "imports against the layer order:\n" + "\n".join(map(str, violations))


def test_pure_modules_import_no_framework():
    violations = pure_violations()
    listing = "\n".join(map(str, violations))
    assert not violations, f"pure modules must not import Django or app code:\n{listing}"


def test_every_app_package_has_a_layer():
    top = {
        p.relative_to(ROOT).parts[0]
        for p in ROOT.glob("*/**/apps.py")
        if not p.parts[len(ROOT.parts)].startswith(".")
    }
    unplaced = sorted(name for name in top if layer_of(name) is None and name not in {"tests", "benchmarks"})
    assert not unplaced, f"apps without a layer in LAYERS: {unplaced}"


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from safety.models import Alert", "taper.selectors", ["safety.models"]),
        ("def f():\n    import api.models", "clinic.web_views", ["api.models"]),
        ("try:\n    from safety import hooks\nexcept ImportError:\n    pass", "taper.x", ["safety.hooks"]),
        ("from ..services import x", "vitals.checkins.views", []),  # vitals.services: below, allowed
        ("from patients.models import Patient", "taper.services", []),
    ],
)
def test_the_scan_sees_every_kind_of_import(tmp_path, source, module, expected):
    """The scanner itself can fail: upward imports in every position are found, downward ones are not."""
    parts = module.split(".")
    path = ROOT.joinpath(*parts[:-1]) / f"_layer_probe_{parts[-1]}.py"
    path.write_text(source)
    try:
        found = [v.imported for v in layer_violations([path])]
    finally:
        path.unlink()
    assert sorted(set(found)) == sorted(expected)
