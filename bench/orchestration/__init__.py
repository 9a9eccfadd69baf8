"""Running cells: what a cell is, with its defaults, and its validated config (`cell`), one
cell (`runner`: reuse its record, or train, evaluate and store it), sweep files (`sweep`),
sweeps as cluster jobs (`cluster`) and experiment loggers (`loggers`).

May import: `bench.contract`, `bench.models`, `bench.data`, `bench.store`, `bench.training`,
`bench.orchestration`.
"""
