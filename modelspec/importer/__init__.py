"""`modelspec import`: turn an existing Keras model into a spec a person would write.

The conversion reads a Keras model's configuration as data — a `.keras` archive's ``config.json``, a JSON
config, or (in ``modelspec.runtime.importer``) a live ``keras.Model``'s ``get_config()`` — and never imports or
runs anything it names. Nothing in this package imports TensorFlow or Keras; reading weights uses h5py and
NumPy only (see docs/import.md).
"""

from modelspec.importer.convert import Imported, import_config, import_file
from modelspec.importer.problems import UnsupportedModel

__all__ = ["Imported", "UnsupportedModel", "import_config", "import_file"]
