"""Data: read or generate rows, split them, fit the preprocessing on train; numpy and pandas, never torch."""

from nnlab.data.load import Splits, load_data, load_labelled_csv, load_many
from nnlab.data.preprocessing import Preprocessing

__all__ = ["Preprocessing", "Splits", "load_data", "load_labelled_csv", "load_many"]
