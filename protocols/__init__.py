"""Evaluation protocols (one file each), imported as `bench.protocols.*`."""
