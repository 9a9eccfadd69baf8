"""Every package the code imports is declared in pyproject.toml, and every declared one is used.

A fresh `pip install -e ".[test]"` must give the suite everything it imports, also what the
code imports lazily inside a function (exporters, loggers, launchers) or looks up by name
(`importlib.util.find_spec("onnxscript")`). This test reads the imports from the source, so a
dependency installed by hand on a developer's machine cannot hide a missing declaration.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("bench", "methods", "protocols", "datasets")
# import name -> distribution name, where they differ beyond '_' vs '-'
DISTRIBUTION = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
}
# declared distributions that nothing imports, and why they are declared all the same
USED_WITHOUT_IMPORT = {
    "pytest-xdist": "pytest plug-in: the suite runs on two processes (addopts -n 2)",
    "ruff": "the lint and format checks in .ci/run",
    "mypy": "the type check in .ci/run",
    "setuptools": "tests/test_packaging.py builds the wheel without build isolation",
    "tensorboard": "torch.utils.tensorboard writes through it (bench run --logger tensorboard)",
    "mkdocs": "the documentation site: mkdocs build --strict in .ci/run (extra [docs])",
    "mkdocs-material": "the documentation site's theme (mkdocs.yml)",
    "mkdocstrings": "the documentation site's Python API page (mkdocs.yml)",
}
# extras the test extra need not carry, and why
NOT_IN_TEST_EXTRA = {
    "torchcodec": "needs FFmpeg 4-7 shared libraries; the suite tests the PyAV decoder",
    "mkdocs": "extra [docs]: .ci/run installs it after the tests, for the site build",
    "mkdocs-material": "extra [docs], as mkdocs",
    "mkdocstrings": "extra [docs], as mkdocs",
    "playwright": "extra [browser]: .ci/run installs it (and Chromium) for the browser test, "
    "which the default suite leaves out",
}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings, normalised ('Foo_Bar>=1' -> 'foo-bar')."""
    return {
        re.split(r"[ <>=!~;\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def _distribution(module: str) -> str:
    return DISTRIBUTION.get(module, module).lower().replace("_", "-")


def _looks_up(call: ast.Call) -> bool:
    """A call that imports a module named by its first argument, without an import line."""
    return getattr(call.func, "attr", None) in ("find_spec", "importorskip") and bool(call.args)


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _imports(folders: tuple[str, ...]) -> dict[str, str]:
    """Third-party top-level modules imported (or looked up with find_spec) -> a file doing it."""
    local = {p.name for p in ROOT.iterdir() if p.is_dir()} | {"bench", "conftest"}
    local |= {p.stem for p in (ROOT / "tests").glob("*.py")}
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Call) and _looks_up(node):
                    names = [node.args[0].value] if _is_text(node.args[0]) else []
                elif isinstance(node, ast.GeneratorExp | ast.ListComp | ast.SetComp) and any(
                    isinstance(n, ast.Call) and _looks_up(n) for n in ast.walk(node)
                ):  # find_spec(m) for m in ("onnx", "onnxscript", ...)
                    names = [
                        e.value
                        for g in node.generators
                        if isinstance(g.iter, ast.Tuple | ast.List)
                        for e in g.iter.elts
                        if _is_text(e)
                    ]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_module_the_code_imports_is_declared() -> None:
    project = _pyproject()["project"]
    declared = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= _names(extra)
    missing = {m: f for m, f in _imports(PACKAGE_DIRS).items() if _distribution(m) not in declared}
    assert not missing, f"imported but declared in no dependency list of pyproject.toml: {missing}"


def test_the_test_extra_carries_what_the_suite_imports_and_every_optional_dependency() -> None:
    project = _pyproject()["project"]
    installed = _names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
    allowed = installed | set(NOT_IN_TEST_EXTRA)  # tests of those run outside the suite
    missing = {m: f for m, f in _imports(("tests",)).items() if _distribution(m) not in allowed}
    assert not missing, f"the suite imports these, which `.[test]` does not install: {missing}"
    for extra, requirements in project["optional-dependencies"].items():
        absent = _names(requirements) - installed - set(NOT_IN_TEST_EXTRA)
        assert not absent, f"extra [{extra}] has {sorted(absent)}, which [test] lacks"


def test_every_declared_dependency_is_used() -> None:
    project = _pyproject()["project"]
    declared = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= _names(extra)
    imported = {_distribution(m) for m in _imports((*PACKAGE_DIRS, "tests"))}
    unused = declared - imported - set(USED_WITHOUT_IMPORT)
    assert not unused, f"declared in pyproject.toml but never imported: {sorted(unused)}"


@pytest.mark.parametrize("module", sorted(_imports((*PACKAGE_DIRS, "tests"))))
def test_each_imported_module_is_installed_by_the_test_extra(module: str) -> None:
    """In the README's test environment every module the code or the suite imports loads."""
    if (
        _distribution(module) in NOT_IN_TEST_EXTRA
        or module == "tomli"
        and sys.version_info >= (3, 11)
    ):
        pytest.skip(
            f"{module}: {NOT_IN_TEST_EXTRA.get(_distribution(module), 'Python < 3.11 only')}"
        )
    importlib.import_module(module)
