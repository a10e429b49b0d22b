"""Load a spec, build it with Keras and run a prediction on random data.

Run from the repository root:  .venv/bin/python examples/predict.py [specs/mlp.yaml]
"""

import sys

import numpy as np

from modelspec import build_model, load_spec

path = sys.argv[1] if len(sys.argv) > 1 else "specs/mlp.yaml"
spec = load_spec(path)  # validates and analyses; raises SpecError with file:line:col diagnostics
print(f"{spec.name}: {len(spec.analysis.layers)} layers, {spec.analysis.total_params:,} parameters (static count)")

model = build_model(spec)  # a compiled keras.Model when the spec has `training:`
rng = np.random.default_rng(0)
batch = []
for info in spec.analysis.inputs.values():
    shape = (4,) + tuple(8 if d is None else d for d in info.shape)
    batch.append(rng.integers(0, 100, shape) if info.dtype.startswith("int") else rng.standard_normal(shape))
predictions = model.predict(batch if len(batch) > 1 else batch[0], verbose=0)
for name, output in zip(spec.analysis.outputs, predictions if isinstance(predictions, list) else [predictions]):
    print(f"output {name}: shape {output.shape}, first row {np.round(output[0], 3)}")
assert model.count_params() == spec.analysis.total_params
