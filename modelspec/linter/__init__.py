"""The linter: an explicit rule registry (registry.py), the runner, configuration, and the rules by family.

Pure Python: nothing under modelspec/linter imports TensorFlow or Keras.
"""
