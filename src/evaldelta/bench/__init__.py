"""The benchmark (``evaldelta bench``) and the load test (``evaldelta load``).

- ``workload/``: the generated data, the same for every store and run: named sizes
  (``scales``), deterministic ids (``ids``), the scores (``data``), SDK-shaped records,
  traces and multipart bodies (``records``, ``traces``, ``payload``).
- ``harness/``: what both tools drive a server with: the server subprocess (``server``),
  dataset and experiments over HTTP (``catalog``), concurrent ingest (``ingest``), delta
  reads (``deltas``), the same deltas in NumPy (``floor``) and the check that both agree
  (``agreement``); ``bulk/`` writes a workload straight into a store file for scale L.
- ``benchmark/``: ``evaldelta bench``: the steps in order (``runner``), timed reads
  (``timing``), the machine (``machine``), ingest CPU per row (``ingest_cpu``), where the
  delta query's time goes (``profile/``), and the JSON and Markdown (``report``).
- ``load/``: ``evaldelta load``: concurrent streams and ingest for a fixed time.
- ``command``, ``load/command`` and ``options``: the CLI side, cheap to import.

Nothing here is imported by the server.
"""
