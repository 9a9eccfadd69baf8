"""Name -> class registries with decorator registration and automatic plug-in discovery."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType
from typing import Generic, TypeVar

from bench.contract.errors import BenchError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of plug-in classes, filled by importing every module of a package."""

    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self._entries: dict[str, type[T]] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator that registers a plug-in under `name`."""

        def decorator(cls: type[T]) -> type[T]:
            existing = self._entries.get(name)
            if existing is not None and existing is not cls:
                raise BenchError(
                    f"two {self.kind}s are both named '{name}' "
                    f"({existing.__module__} and {cls.__module__}); rename one of them"
                )
            cls.name = name  # type: ignore[attr-defined]
            self._entries[name] = cls
            return cls

        return decorator

    def discover(self) -> None:
        """Import every module of the plug-in package so their decorators run."""
        if self._discovered:
            return
        package: ModuleType = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        self._discovered = True

    def names(self) -> list[str]:
        """Sorted names of every registered plug-in."""
        self.discover()
        return sorted(self._entries)

    def get(self, name: str) -> type[T]:
        """The class registered as `name`; unknown names fail with the list of known ones."""
        self.discover()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names()) or "(none)"
            raise BenchError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self.names())}; "
                f"known {self.kind}s: {known}"
            ) from None

    def items(self) -> list[tuple[str, type[T]]]:
        """(name, class) pairs, sorted by name."""
        self.discover()
        return sorted(self._entries.items())
