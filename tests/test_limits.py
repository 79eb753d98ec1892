"""The bounds checked up front: the memory a machine says it has free, and what fits in it."""

from nnlab import limits


def test_free_memory_is_a_positive_count_or_unknown():
    free = limits.free_bytes()
    assert free is None or free > 0


def test_a_plan_fits_with_a_margin_and_unknown_memory_never_refuses():
    assert limits.fits(79, 100) and not limits.fits(81, 100) and limits.fits(10**15, None)
    assert limits.size_text(40e9) == "40.0 GB" and limits.size_text(5e6) == "5 MB"
    assert limits.MAX_RUNS >= 1000 and limits.MAX_COLUMNS >= 10_000 and limits.MAX_PROBLEMS >= 10
