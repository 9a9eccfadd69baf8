"""The tree's map holds: each wing of `bench/` imports only the wings its `__init__` names,
lower wings never import the CLI or the reports, and the plug-in folders stay plug-ins."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WINGS = (
    "contract",
    "models",
    "data",
    "store",
    "training",
    "orchestration",
    "deployment",
    "perf",
    "reports",
    "cli",
)
PLUGIN_DIRS = {"methods": "methods", "protocols": "protocols", "datasets": "datasets"}
ALLOWED: dict[str, set[str]] = {
    "contract": {"contract"},
    "models": {"contract", "models"},
    "data": {"contract", "data"},
    "store": {"contract", "store"},
    # the toolkit plug-ins import; it never reads the results store
    "training": {"contract", "models", "data", "training"},
    "orchestration": {"contract", "models", "data", "store", "training", "orchestration"},
    "deployment": {
        *("contract", "models", "data", "store", "training", "orchestration", "deployment"),
    },
    # it times models' steps, runs and anonymizers
    "perf": {"contract", "models", "data", "store", "training", "orchestration", "deployment"}
    | {"perf"},
    "reports": {"contract", "models", "data", "store", "training", "orchestration", "reports"},
    "cli": {*WINGS, "api"},
    "api": {"contract", "data", "store", "orchestration", "deployment", "reports"},
    # plug-ins: the contract and the toolkit; never results, runs, reports or the CLI
    "methods": {"contract", "models", "data", "training", "methods"},
    "protocols": {"contract", "models", "data", "training", "protocols"},
    "datasets": {"contract", "models", "data", "training", "datasets"},
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
    assert top == {"__init__.py", "api.py", "py.typed", "sweeps", *WINGS}


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = rel.parts if rel.parts[0] == "bench" else ("bench", *rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The bench modules `path` imports, anywhere in it (type-only imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from bench.training import recipes` names a module
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in known}


def test_no_module_imports_itself_through_others() -> None:
    """No import circle between modules: each module can be read after the ones it imports."""
    graph = {module_name(p): p for p in MODULES}
    known = set(graph)
    edges = {name: imported_modules(path, known) - {name} for name, path in graph.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(edges[name]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)
