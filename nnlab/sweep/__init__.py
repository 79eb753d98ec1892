"""Many runs: planning seeds x grid points into groups, training a group (stacked or alone), aggregating,
saving sub-runs; on a Dask cluster, the groups as tasks."""
