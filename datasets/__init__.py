"""Dataset families (one file each), imported as `bench.datasets.*`."""
