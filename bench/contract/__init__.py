"""The plug-in contract: everything a method, protocol or dataset-family author imports.

Base classes and registries (`method`, `protocol`, `dataset`), plug-in files (`plugins`),
the run's configuration (`config`) and context (`context`), the one error type
(`errors`) and the names of the networks a run may choose (`architectures`).

May import: `bench.contract` only.
"""
