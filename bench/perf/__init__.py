"""`bench perf`: timed cold runs with their targets, and the clip-loading comparison.

May import: `bench.contract`, `bench.data`, `bench.engine`, `bench.store`, `bench.perf`.
"""
