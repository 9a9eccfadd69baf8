"""The paper's published numbers as data (tableN.csv), shipped in the package as
`bench.reports.paper_numbers` so that `bench table --paper` works from a wheel install."""
