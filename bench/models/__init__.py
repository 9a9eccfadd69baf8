"""Networks: anonymizer fA, action classifiers fT / fT', privacy backbones fB / fB', and
loading their published checkpoints from local files (`weights`; nothing downloads).

May import: `bench.contract`, `bench.models`.
"""
