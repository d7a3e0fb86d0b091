"""The benchmark suite: ``evaldelta bench --scale S|M|L|L3 --out results.json``.

One module per job: ``scales`` (named sizes), ``ids`` (deterministic identifiers),
``workload`` (the generated scores), ``payload`` (SDK-shaped multipart bodies), ``server``
(the server subprocess), ``catalog`` (dataset, examples, experiments over HTTP), ``ingest``
(concurrent HTTP ingest), ``deltas`` (timing the delta endpoints), ``floor`` (the same
deltas in NumPy), ``agreement`` (checking both answers), ``profile`` (where the server's
time goes), ``report`` (JSON and Markdown) and ``runner`` (all of it in order).

Nothing here is imported by the server; ``command`` is the only module the CLI imports
eagerly, and it imports the rest only when the command runs.
"""
