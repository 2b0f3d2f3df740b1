"""Data handling: division into training/validation/test, scaling, targets, readers."""
from .division import divide
from .public import GraphData, MovieLens, Ratings, per_class_split, read_cora, read_movielens
from .readers import DataError, read_csv, read_nnc, read_npy, read_table
from .scaling import Scaling, fit_scaling, minmax, standard
from .targets import encode_labels, is_labels, prepare_targets
from .timeseries import from_sequence, prepare_timeseries, to_sequence

__all__ = ["divide", "DataError", "read_csv", "read_nnc", "read_npy", "read_table", "Scaling", "fit_scaling",
           "minmax", "standard", "encode_labels", "is_labels", "prepare_targets", "prepare_timeseries",
           "to_sequence", "from_sequence", "GraphData", "Ratings", "MovieLens", "read_cora", "read_movielens",
           "per_class_split"]
