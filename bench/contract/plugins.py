"""Loading plug-in files from outside the tree (`--plugin path.py`)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.contract.method import METHODS
from bench.contract.protocol import PROTOCOLS

_LOADED: dict[str, tuple[Path, str]] = {}  # module name -> (file, sha256 of its source)


def load_plugin(path: Path) -> None:
    """Import a Python file so the methods / protocols / datasets it registers become usable."""
    path = path.expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise BenchError(f"--plugin {path}: no such Python file; give the path of a .py file")
    source = path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    module_name = f"bench_plugin_{path.stem}_{digest[:12]}"
    if module_name in _LOADED:
        return
    for registry in (METHODS, PROTOCOLS, DATASETS):
        registry.discover()  # built-ins first, so a name clash is reported
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BenchError(f"--plugin {path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BenchError:
        del sys.modules[module_name]
        raise
    except Exception as exc:  # the plug-in's own bug: report it in one line
        del sys.modules[module_name]
        raise BenchError(
            f"--plugin {path}: importing it failed: {type(exc).__name__}: {exc}"
        ) from None
    _LOADED[module_name] = (path, digest)


def plugin_digest(classes: tuple[type, ...]) -> str:
    """sha256 over the plug-in files defining any of `classes`; '' when all are built in."""
    digests = sorted({_LOADED[c.__module__][1] for c in classes if c.__module__ in _LOADED})
    return hashlib.sha256("".join(digests).encode()).hexdigest() if digests else ""


def loaded_plugins() -> dict[str, str]:
    """{file: sha256} of every plug-in loaded in this process."""
    return {str(path): digest for path, digest in _LOADED.values()}
