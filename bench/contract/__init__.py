"""The plug-in contract: everything a method, protocol or dataset-family author imports.

Base classes and registries (`method`, `protocol`, `dataset`), plug-in files (`plugins`),
the run's configuration (`config`) and context (`context`), the one error type
(`errors`), the names of the networks a run may choose (`architectures`), the one atomic
file writer (`atomic`) and the locks workers share results by (`locks`).

May import: `bench.contract` only.
"""
