"""Transfer learning with modelspec: train a base model, then reuse its hidden layers, frozen, under a new head.

Run from anywhere:  .venv/bin/python examples/transfer_learning/run.py
It writes base.weights.h5 next to the specs (the path transfer.yaml names) and nothing else.
"""

from pathlib import Path

import numpy as np
from rich.console import Console

from modelspec import build_model, load_spec
from modelspec.pipeline import weights_plan
from modelspec.report.plan import plan_table

HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(0)

# Data the example makes itself: 4 classes from the signs of two hidden directions of 10 features. The
# second task asks a related question (are those signs equal?), so features learned for the first one help.
x = rng.standard_normal((2000, 10)).astype("float32")
directions = rng.standard_normal((10, 2))
signs = (x @ directions > 0).astype(int)
y_base = signs[:, 0] * 2 + signs[:, 1]
y_transfer = (signs[:, 0] == signs[:, 1]).astype(int)

# 1. Train the base model briefly and save its weights.
base = build_model(HERE / "base.yaml")
base.fit(x, y_base, epochs=5, batch_size=64, verbose=0)
print(f"base accuracy: {base.evaluate(x, y_base, verbose=0)[1]:.3f}")
base.save_weights(HERE / "base.weights.h5")

# 2. What will load, before loading it (the same table as `modelspec build transfer.yaml --plan`).
spec = load_spec(HERE / "transfer.yaml")
Console(width=110).print(plan_table(weights_plan(spec)))

# 3. Build the second model: loaded layers are the base's, frozen; the new head starts from its seed.
model = build_model(spec)
for ours, theirs in (("features1", "hidden1"), ("hidden2", "hidden2")):
    for mine, source in zip(model.get_layer(ours).weights, base.get_layer(theirs).weights):
        assert np.array_equal(np.asarray(mine), np.asarray(source))
frozen = [np.asarray(v).copy() for v in model.get_layer("features1").weights]
print(
    f"transfer: {sum(int(np.prod(v.shape)) for v in model.trainable_weights)} trainable of "
    f"{model.count_params()} parameters"
)

# 4. Train only the head.
model.fit(x, y_transfer, epochs=5, batch_size=64, verbose=0)
print(f"transfer accuracy: {model.evaluate(x, y_transfer, verbose=0)[1]:.3f}")
assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(frozen, model.get_layer("features1").weights))
print("the frozen layers did not change")
