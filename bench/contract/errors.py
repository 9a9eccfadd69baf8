"""User-facing errors: one line naming the problem and the fix; the CLI exits with code 2."""


class BenchError(Exception):
    """A mistake the user can fix (bad option, missing file, unwritable directory...)."""
