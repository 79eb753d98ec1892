"""Everything shown: rich renderables (run report, loss table, listings, the sweep table), the sparkline, PNG plots.

Nothing here prints; the CLI owns the consoles.
"""
