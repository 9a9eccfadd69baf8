"""User-facing errors: one line naming the problem and the fix; the CLI exits with code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """A mistake the user can fix (bad option, missing file, unwritable directory...)."""


def did_you_mean(name: object, known: Iterable[object]) -> str:
    """ " (did you mean 'blur'?)" for the known name closest to a mistyped `name`, else ""."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""
