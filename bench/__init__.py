"""privbench: a benchmark suite for privacy-preserving action recognition."""

__version__ = "0.1.0"
