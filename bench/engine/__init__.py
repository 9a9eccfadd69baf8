"""The engine that runs one benchmark cell: the runner and sweeps, learned fits and their
reuse, the minimax game (its training recipes, its fresh probe and stopping rule),
anonymizing splits, training and scoring the fresh fT' / fB',
clip sampling, augmentation, losses and metrics; and a stored fA* outside a run: the fit
catalog (`bench fits`), anonymizing video files, ONNX / TorchScript export.

May import: `bench.contract`, `bench.models`, `bench.data`, `bench.store`, `bench.engine`.
"""
