"""Data handling: division into training/validation/test, scaling, targets."""
from .division import divide
from .scaling import Scaling, fit_scaling, minmax, standard
from .targets import encode_labels, is_labels, prepare_targets

__all__ = ["divide", "Scaling", "fit_scaling", "minmax", "standard", "encode_labels", "is_labels",
           "prepare_targets"]
