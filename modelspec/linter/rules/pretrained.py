"""Pretrained-weights rules (MS401–MS404): the `pretrained:` block against the spec's layers and folder.

Lint never opens the weights file (no h5py, no TensorFlow): MS401 only checks that it exists, and a layer
counts as loaded when `map` names it or a `freeze` pattern matches it. `modelspec build --plan` reads the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules._docs import spec
from modelspec.schema.pretrained import compile_pattern

KERAS_TRANSFER = "Keras transfer learning guide: https://keras.io/guides/transfer_learning/"
PLAN = "modelspec build --plan SPEC prints what each layer gets from the file (README, Pretrained weights)"
_BODY = ("  - {type: dense, name: hidden1, units: 64, activation: relu}\n"
         "  - {type: dense, name: hidden2, units: 64, activation: relu}\n"
         "  - {type: dense, name: head, units: 10, activation: softmax}\n")


def _weighted(subject: Subject) -> list[str]:
    """Our layers that have (or may have) weights."""
    return [name for name, info in subject.analysis.layers.items() if info.variables != []]


def _patterns(subject: Subject) -> list[tuple[int, object]]:
    freeze = subject.spec.pretrained.freeze
    return [] if isinstance(freeze, bool) else [(i, compile_pattern(text)) for i, text in enumerate(freeze)]


def _frozen_by_patterns(subject: Subject) -> set[str]:
    return {name for name in _weighted(subject) for _, pattern in _patterns(subject)
            if isinstance(pattern, re.Pattern) and pattern.fullmatch(name)}


def _file_missing(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    block = subject.spec.pretrained
    if block is None:
        return
    target = subject.model.folder / block.path
    if not target.is_file():
        where = subject.model.folder if not subject.model.path.startswith("<") else "the current folder"
        yield Finding(("pretrained", "path"), f"pretrained weights file {block.path!r} does not exist (looked in "
                                              f"{where})",
                      hint="write the path relative to the spec's folder, or pass the file with "
                           "`modelspec build --weights FILE`")


MS401 = Rule(
    code="MS401", name="pretrained-file-missing", level=Level.ERROR,
    summary="the pretrained weights file does not exist",
    check=_file_missing,
    docs=Docs(
        what="Flags a `pretrained.path` that names no file, relative to the spec's folder.",
        why="The build would stop at the missing file; CI finds it earlier, without TensorFlow. A path written "
            "relative to the current folder instead of the spec's folder works on one machine and fails on the next.",
        example=spec(_BODY, extra="pretrained:\n  path: missing.weights.h5\n"),
        use_instead=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n"),
        references=PLAN,
    ),
)


def _everything_frozen(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    block = subject.spec.pretrained
    if block is None or isinstance(block.freeze, bool):
        return
    weighted = _weighted(subject)
    frozen = _frozen_by_patterns(subject) | {name for name in weighted if not subject.analysis.layers[name]
                                              .trainable_params and subject.analysis.layers[name].params}
    if weighted and set(weighted) <= frozen:
        yield Finding(("pretrained", "freeze"), f"every layer with weights is frozen ({len(weighted)} layers): "
                                                f"training changes nothing",
                      hint="leave the new head (at least) out of `freeze`")


MS402 = Rule(
    code="MS402", name="everything-frozen", level=Level.WARNING,
    summary="every layer with weights is frozen",
    check=_everything_frozen,
    docs=Docs(
        what="Flags a spec whose `freeze` patterns (with per-layer `trainable: false`) cover every layer that has "
             "weights. `freeze: true` freezes only the layers that load, which lint cannot know without the file, "
             "so it is not flagged; `modelspec build --plan` shows it.",
        why="With nothing trainable, `fit` runs, reports a loss, and changes no weight: the time is wasted and the "
            "result looks like a model that cannot learn.",
        example=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n  freeze: ['hidden.*', head]\n"),
        use_instead=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n  freeze: ['hidden.*']\n"),
        references=KERAS_TRANSFER,
    ),
)


def _unmapped(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    block = subject.spec.pretrained
    if block is None:
        return
    weighted = _weighted(subject)
    for key in block.map:
        if key not in weighted:
            known = "no layer" if key not in subject.analysis.layers else "a layer without weights"
            yield Finding(("pretrained", "map", key), f"map names {known} of this spec (received: {key!r})",
                          hint=f"map keys are this spec's layers with weights: {', '.join(weighted)}")
    for index, pattern in _patterns(subject):
        if isinstance(pattern, str):
            yield Finding(("pretrained", "freeze", index), pattern,
                          hint="write a layer name, or a regular expression matched against whole names")
        elif not any(pattern.fullmatch(name) for name in weighted):
            yield Finding(("pretrained", "freeze", index), f"freeze pattern matches no layer with weights "
                                                           f"(received: {pattern.pattern!r})",
                          hint=f"patterns match whole names: {', '.join(weighted)}")


MS403 = Rule(
    code="MS403", name="pretrained-unmapped", level=Level.ERROR,
    summary="a `map` key or `freeze` pattern matches no layer",
    check=_unmapped,
    docs=Docs(
        what="Flags a `pretrained.map` key that is not a layer with weights of this spec, and a `freeze` pattern "
             "that matches none of them (patterns match whole names, as `re.fullmatch`) or is not a valid "
             "regular expression.",
        why="A typo in `map` or `freeze` silently does nothing: the layer you meant to load starts from random "
            "weights, or the layer you meant to freeze is trained and forgets what it learned. The build refuses "
            "both; lint says so before TensorFlow starts.",
        example=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n  map: {encoder: dense}\n"),
        use_instead=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n  map: {hidden1: dense}\n"),
        references=PLAN,
    ),
)


def _init_overridden(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    block = subject.spec.pretrained
    if block is None:
        return
    loaded = set(block.map) | _frozen_by_patterns(subject)
    keys = subject.document.key_locations
    for name in sorted(loaded, key=lambda n: subject.analysis.layers[n].index if n in subject.analysis.layers
                       else 0):
        info = subject.analysis.layers.get(name)
        if info is None:
            continue
        core = (info.spec.CORE_FIELD,) if info.spec.CORE_FIELD else ()
        for slot in info.initializers:
            path = info.path + core + (slot,)
            if path in keys:
                yield Finding(path, f"'{name}' sets {slot}, but its weights are replaced by the pretrained "
                                    f"weights: the initializer is never used", layer=name,
                              hint=f"remove {slot} from '{name}'")


MS404 = Rule(
    code="MS404", name="init-overridden", level=Level.INFO,
    summary="an explicit initializer on a layer that pretrained weights replace",
    check=_init_overridden,
    docs=Docs(
        what="Flags an initializer written on a layer that the `pretrained:` block loads. Lint does not read the "
             "file, so a layer counts as loaded when `map` names it or a `freeze` pattern matches it.",
        why="The initializer runs, and its values are then overwritten by the file's: the setting has no effect, "
            "and a reader of the spec believes it does.",
        example=spec("  - {type: dense, name: hidden1, units: 64, activation: relu, kernel_initializer: he_normal}\n"
                     "  - {type: dense, name: head, units: 10, activation: softmax}\n",
                     extra="pretrained:\n  path: base.weights.h5\n  freeze: [hidden1]\n"),
        use_instead=spec("  - {type: dense, name: hidden1, units: 64, activation: relu}\n"
                         "  - {type: dense, name: head, units: 10, activation: softmax}\n",
                         extra="pretrained:\n  path: base.weights.h5\n  freeze: [hidden1]\n"),
        references=KERAS_TRANSFER,
    ),
)
