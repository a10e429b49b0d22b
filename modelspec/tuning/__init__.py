"""`modelspec tune`: a hyperparameter search over a spec's fields, each trial linted before it trains.

space.py parses ``--search PATH=DISTRIBUTION``; plan.py resolves a request into a ``TunePlan`` (pure Python, no
TensorFlow); trial.py runs one trial (pre-flight, then training through modelspec/trainer.py); optuna_engine.py (and
ray_engine.py, for ``--engine ray``) run a plan's trials; results.py gathers them; study.py is ``modelspec.tune``.
"""
