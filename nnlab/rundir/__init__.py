"""The run directory: a Run's life (claim, receipt, checkpoints, finish), its files, and what reads them back
(resume, listing past runs, reproduce, predict)."""
