"""The build pipeline: every guarantee of `modelspec build`, in the library, for the command line and the Python
API alike (and for train, probe and compare, which build first).

``prepare`` does everything that needs no TensorFlow, in this order: load and validate the spec, refuse a
model over the parameter budget, check the `pretrained:` block and plan what the weights file loads, and lint
(the gate: error-level findings, or warnings under ``strict``, stop here). ``build`` then imports TensorFlow,
compiles the model and loads the planned weights, and ``save`` writes it atomically. Every user mistake is a
``ModelspecError`` (modelspec/errors.py) whose exit code the command line uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from modelspec.diagnostics import Diagnostic, error
from modelspec.errors import EXIT_OK, BuildError, LintFailure, ModelspecError, SpecError
from modelspec.linter.config import LintConfig, load_config, rule_codes
from modelspec.linter.runner import LintResult, run
from modelspec.loader import ModelSpec, load_spec
from modelspec.pretrained.checks import settings
from modelspec.pretrained.plan import Plan, plan_for

DEFAULT_MAX_PARAMS = 2_000_000_000
# What a .keras archive modelspec writes carries beside Keras's own files (Keras ignores them).
SPEC_MEMBER = "modelspec/spec.yaml"
CLASSES_MEMBER = "modelspec/classes.json"
SpecSource = Union[str, os.PathLike, dict, ModelSpec]


@dataclass
class Prepared:
    """A spec that passed every check a build makes before TensorFlow starts."""

    model: ModelSpec
    findings: list[Diagnostic] = field(default_factory=list)  # lint findings below the gate's level
    plan: Optional[Plan] = None  # what the pretrained weights load, when a file is in force: what `build` executes
    max_params: int = DEFAULT_MAX_PARAMS


def prepare(
    spec: SpecSource,
    *,
    weights: Optional[Union[str, os.PathLike]] = None,
    max_params: int = DEFAULT_MAX_PARAMS,
    lint: bool = True,
    strict: bool = False,
    config: Optional[LintConfig] = None,
    ignore: Iterable[str] = (),
) -> Prepared:
    """Check a spec as a build does, without TensorFlow.

    Args:
        spec: a path, YAML text, dict or loaded spec.
        weights: a weights file (.weights.h5, .keras or .npz) replacing the `pretrained:` block's path, taken
            as given (relative to the current folder); without a `pretrained:` block, layers load by name.
        max_params: refuse a model with more parameters than this.
        lint: run the lint gate (``config``: the rules and levels; default: the nearest pyproject.toml's).
        strict: warnings stop the build too.
        ignore: rule codes, names or prefixes the lint gate skips, as `modelspec lint --ignore` (added to the
            configuration's ignores).

    Raises:
        SpecError: the spec is invalid, over the budget, or its `pretrained:` block is unusable.
        WeightsError: the weights file is unreadable, refused, or does not fit the model.
        LintFailure: the lint gate stopped the build (exit code 1).
        SettingsError: the lint configuration is unusable.
    """
    model = load_spec(spec)
    check_budget(model, model.analysis.total_params, max_params)
    plan = plan_for(model, weights) if settings(model, weights) is not None else None
    findings = _lint_gate(model, config, strict, weights is not None, ignore) if lint else []
    return Prepared(model, findings, plan, max_params)


def weights_plan(
    spec: SpecSource, *, weights: Optional[Union[str, os.PathLike]] = None, max_params: int = DEFAULT_MAX_PARAMS
) -> Plan:
    """What `modelspec build --plan` prints: the budget and pretrained checks of ``prepare``, then the plan of
    what the weights file loads (no lint, no TensorFlow). A spec without weights to load is a ``SpecError``."""
    model = load_spec(spec)
    check_budget(model, model.analysis.total_params, max_params)
    return plan_for(model, weights)


def _lint_gate(
    model: ModelSpec, config: Optional[LintConfig], strict: bool, weights_given: bool, ignore: Iterable[str]
) -> list[Diagnostic]:
    config = config or load_config()
    if ignore:
        config = config.without(*rule_codes(list(ignore), "--ignore"))
    if weights_given:  # the file given replaces `pretrained.path`: a missing file there is no reason to stop
        config = config.without("MS401")
    result = LintResult(run(model, config), files=1)
    if result.exit_code(strict) != EXIT_OK:
        raise LintFailure(model.path, result.diagnostics, strict)
    return result.diagnostics


def check_budget(model: ModelSpec, params: int, max_params: int) -> None:
    """Refuse a model with more than ``max_params`` parameters (a ``SpecError`` located at the spec's top)."""
    if params > max_params:
        raise SpecError(
            [error(model.path, 1, 1, f"the model has {params:,} parameters, more than --max-params {max_params:,}")]
        )


def build(prepared: Prepared, *, seed: Optional[int] = None) -> Any:
    """Compile a prepared spec into a ``keras.Model`` and load its planned weights. Imports TensorFlow.

    Raises:
        SpecError: opaque `type: keras` layers took the model over the budget once Keras built them.
        WeightsError: the weights file does not fit what Keras built.
        BuildError: Keras could not build the model (the cause is chained).
    """
    from modelspec.runtime.builder import compile_model

    try:
        keras_model = compile_model(prepared.model, seed=seed, plan=prepared.plan)
    except ModelspecError:
        raise
    except ImportError as exc:
        raise BuildError(
            f"building a model needs TensorFlow, which did not import ({exc}): install it with "
            f"pip install 'modelspec[tf]'"
        ) from exc
    except Exception as exc:  # TensorFlow raises its own errors (out of memory, bad arguments)
        raise BuildError(f"Keras could not build {prepared.model.path}: {str(exc) or type(exc).__name__}") from exc
    if not prepared.model.analysis.complete:
        # Opaque `type: keras` layers are only counted once Keras has built them.
        check_budget(prepared.model, keras_model.count_params(), prepared.max_params)
    return keras_model


def save(
    keras_model: Any,
    path: Union[str, os.PathLike],
    model: Optional[ModelSpec] = None,
    classes: Optional[dict[str, list[str]]] = None,
) -> Path:
    """Write a model to ``path`` (a .keras file) atomically: a failed save leaves no file and no change. With the
    spec it came from (``model``) and the class names of text labels, the archive carries them too, for
    `modelspec evaluate MODEL.keras`."""
    from modelspec.runtime.builder import save_atomic

    path = Path(path)
    members = {SPEC_MEMBER: spec_text(model)} if model is not None else {}
    if classes:
        members[CLASSES_MEMBER] = json.dumps(classes, indent=2) + "\n"
    try:
        save_atomic(keras_model, path, members)
    except ModelspecError:
        raise
    except Exception as exc:  # disk full, permissions, Keras serialisation errors
        raise BuildError(f"could not save {path}: {str(exc) or type(exc).__name__}") from exc
    return path


def spec_text(model: ModelSpec) -> str:
    """The spec's YAML as written (or, for a dict, a spec changed by `--set` or `--vary`, or one that extends
    another file, its data as YAML: the text must stand alone)."""
    if model.document.text and not model.document.edited and not model.document.texts:
        return model.document.text
    return yaml.safe_dump(model.document.data, sort_keys=False)


def build_model(
    spec: SpecSource,
    *,
    seed: Optional[int] = None,
    weights=None,
    max_params: int = DEFAULT_MAX_PARAMS,
    lint: bool = True,
    strict: bool = False,
    config: Optional[LintConfig] = None,
    ignore: Iterable[str] = (),
) -> Any:
    """Build the ``keras.Model`` a spec describes, with every guarantee of `modelspec build`: the parameter
    budget, the pretrained checks and the lint gate first (see ``prepare``; ``ignore`` lists rules the gate
    skips), then Keras (see ``build``)."""
    prepared = prepare(
        spec, weights=weights, max_params=max_params, lint=lint, strict=strict, config=config, ignore=ignore
    )
    return build(prepared, seed=seed)
