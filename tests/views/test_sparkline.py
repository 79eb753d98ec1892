import pytest

from nnlab.views.sparkline import BLOCKS, loss_curves, spans_decades, sparkline


def test_sparkline_maps_min_to_lowest_block_and_max_to_highest():
    line = sparkline([4.0, 3.0, 2.0, 1.0, 0.0])
    assert line[0] == BLOCKS[-1] and line[-1] == BLOCKS[0] and len(line) == 5
    assert list(line) == sorted(line, reverse=True)


def test_sparkline_resamples_to_width_keeping_ends_and_handles_flat_and_empty():
    line = sparkline(list(range(1000)), width=20)
    assert len(line) == 20 and line[0] == BLOCKS[0] and line[-1] == BLOCKS[-1]
    assert sparkline([2.0, 2.0]) == BLOCKS[0] * 2 and sparkline([]) == ""


@pytest.mark.parametrize("values, log", [([1000, 10, 1], True), ([3, 2, 1], False), ([1, 0, -1], False)])
def test_log_scale_only_when_positive_values_span_decades(values, log):
    assert spans_decades(values) is log


def test_log_scale_spreads_a_geometric_decay_evenly():
    line = sparkline([10.0 ** -k for k in range(8)], log=True)
    assert line == BLOCKS[::-1]


def test_loss_curves_show_both_losses_and_their_ends():
    text = loss_curves([{"train_loss": 2.0, "test_loss": 3.0}, {"train_loss": 0.5, "test_loss": 1.0}]).plain
    assert "train_loss" in text and "test_loss" in text and "2 → 0.5" in text and "3 → 1" in text
    assert "train loss" not in text and "test loss" not in text  # README: Names


def test_loss_curves_show_the_validation_loss_between_them():
    rows = [{"train_loss": 2.0, "val_loss": 2.5, "test_loss": 3.0}, {"train_loss": 0.5, "val_loss": 0.7, "test_loss": 1.0}]
    lines = loss_curves(rows).plain.splitlines()
    assert [line.split()[0] for line in lines] == ["train_loss", "val_loss", "test_loss"] and "2.5 → 0.7" in lines[1]
