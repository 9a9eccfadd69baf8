"""A stored fA* (or a fixed method) outside a benchmark run: the catalog of stored fits
(`fit_catalog`, `bench fits`), anonymizers for any footage (`anonymizers`), anonymizing
video files (`video_files`, `bench anonymize`) and ONNX / TorchScript export (`export`).

May import: `bench.contract`, `bench.models`, `bench.data`, `bench.store`, `bench.training`,
`bench.orchestration`, `bench.deployment`.
"""
