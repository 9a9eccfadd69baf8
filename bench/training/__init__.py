"""The training and scoring toolkit that plug-ins import: fA0 and its identity pretraining
(`identity`), the minimax game (`game`, `budget`, `adversarial`: the base of the learned
methods), its recipes, probe and stopping rule, the fresh fT' / fB' (`fresh_models`),
anonymizing splits and scoring them (`anonymize_splits`, `scoring`), one fit per key
(`fits`), per-epoch checkpoints (`checkpointing`), batches, clips, augmentation, losses,
metrics and the person region the fixed baselines act on.

May import: `bench.contract`, `bench.models`, `bench.data`, `bench.training`.
"""
