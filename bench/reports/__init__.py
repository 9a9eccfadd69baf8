"""Reports built from records only (they never train): the paper's tables (declarative
specs), the published numbers, the figures (one registry), and `bench report`.

May import: every wing except `bench.cli` and `bench.perf`.
"""
