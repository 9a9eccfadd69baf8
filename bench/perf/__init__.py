"""`bench perf`: timed cold runs with their targets, the clip-loading comparison, and the
training steps' speed and FLOPs (`--gpu`), and frames/s of `bench anonymize` (`--anonymize`).

May import: `bench.contract`, `bench.models`, `bench.data`, `bench.engine`, `bench.store`,
`bench.perf`.
"""
