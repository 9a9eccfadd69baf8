"""Anonymization methods (one file each), imported as `bench.methods.*`."""
