"""The tree's map holds: each wing of `bench/` imports only the wings its `__init__` names,
lower wings never import the CLI or the reports, and the plug-in folders stay plug-ins."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WINGS = ("contract", "models", "data", "engine", "store", "perf", "reports", "cli")
PLUGIN_DIRS = {"methods": "methods", "protocols": "protocols", "datasets": "datasets"}
ALLOWED: dict[str, set[str]] = {
    "contract": {"contract"},
    "models": {"contract", "models"},
    "data": {"contract", "data"},
    "store": {"contract", "store"},
    "engine": {"contract", "models", "data", "store", "engine"},
    "perf": {"contract", "models", "data", "engine", "store", "perf"},  # it times models' steps
    "reports": {"contract", "models", "data", "engine", "store", "reports"},
    "cli": {*WINGS, "api"},
    "api": {"contract", "data", "engine", "store", "reports"},
    # plug-ins: the contract and what runs a cell; never results, reports or the CLI
    "methods": {"contract", "models", "data", "engine", "methods"},
    "protocols": {"contract", "models", "data", "engine", "protocols"},
    "datasets": {"contract", "models", "data", "engine", "datasets"},
}


def wing_of(path: Path) -> str:
    rel = path.relative_to(REPO)
    if rel.parts[0] in PLUGIN_DIRS:
        return rel.parts[0]
    return "api" if rel.parts[1] == "api.py" else rel.parts[1]


def imported_wings(path: Path) -> set[str]:
    """The `bench.<wing>` names a module imports (module level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    parts = (name.split(".") for name in names if name.startswith("bench."))
    return {p[1] for p in parts}


MODULES = sorted(
    p
    for p in [*REPO.glob("bench/*/**/*.py"), REPO / "bench" / "api.py"]
    + [p for d in PLUGIN_DIRS for p in (REPO / d).glob("*.py")]
    if p.name != "__main__.py"
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_module_imports_only_what_its_wing_may(path: Path) -> None:
    wing = wing_of(path)
    bad = imported_wings(path) - ALLOWED[wing]
    assert not bad, f"{path.relative_to(REPO)} ({wing}) imports bench.{', bench.'.join(bad)}"


def test_every_wing_says_what_it_holds_and_may_import() -> None:
    for wing in WINGS:
        doc = ast.get_docstring(ast.parse((REPO / "bench" / wing / "__init__.py").read_text()))
        assert doc, f"bench/{wing}/__init__.py needs a docstring"
        if wing != "cli":
            assert "May import:" in doc
            named = {w for w in WINGS if f"`bench.{w}`" in doc.split("May import:")[1]}
            assert named == ALLOWED[wing] & set(WINGS) or wing == "reports", wing


def test_nothing_but_the_cli_reads_the_cli_and_reports_are_read_only_above_them() -> None:
    for path in MODULES:
        wing = wing_of(path)
        used = imported_wings(path)
        if wing != "cli":
            assert "cli" not in used, path
        if wing not in {"cli", "api", "reports"}:
            assert "reports" not in used, path


def test_bench_has_only_wings_the_api_and_shipped_data_at_its_top() -> None:
    top = {p.name for p in (REPO / "bench").iterdir() if p.name != "__pycache__"}
    assert top == {"__init__.py", "api.py", "sweeps", *WINGS}
