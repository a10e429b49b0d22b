"""Reading datasets and checking them against a spec, before TensorFlow starts (docs/data.md).

Pure Python and NumPy, imported inside the functions that need it: this package never imports TensorFlow or Keras,
and importing it imports no NumPy either.

    from modelspec.data import Dataset, load_data
    dataset = load_data("digits", model)      # or an .npz, a folder of .npy files, a .csv
"""

from modelspec.data.dataset import Dataset
from modelspec.data.load import load_data

__all__ = ["Dataset", "load_data"]
