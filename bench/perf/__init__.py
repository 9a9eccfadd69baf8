"""`bench perf`: timed cold runs with their targets, the clip-loading comparison, and the
training steps' speed and FLOPs (`--gpu`), frames/s of `bench anonymize` (`--anonymize`),
and a cell's stage-by-stage profile against the machine's peak (`--profile`).

May import: `bench.contract`, `bench.models`, `bench.data`, `bench.store`, `bench.training`,
`bench.orchestration`, `bench.deployment`, `bench.perf`.
"""
