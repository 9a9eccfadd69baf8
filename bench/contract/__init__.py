"""The plug-in contract: everything a method, protocol or dataset-family author imports.

Base classes and registries (`method`, `protocol`, `dataset`), plug-in files (`plugins`),
the run's configuration (`config`) and context (`context`), and the one error type
(`errors`). May import: `bench.contract` and `bench.models` (architecture names) only.
"""
