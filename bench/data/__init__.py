"""Data on disk: frame stores, video decoding, dataset catalogs (the published layouts),
pre-decoding (`bench data prepare`), real-data benchmarks, tree checks, the cache folder,
and writers of small sample trees in those layouts (tests, `bench perf --loading`).

May import: `bench.contract`, `bench.data`.
"""
