"""Networks: anonymizer fA, action classifiers fT / fT', privacy backbones fB / fB'."""
