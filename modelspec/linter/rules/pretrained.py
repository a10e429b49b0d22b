"""Pretrained-weights rules (MS401–MS404): the `pretrained:` block against the spec's layers and folder.

Lint never opens the weights file (no h5py, no TensorFlow): MS401 and MS403 report the problems of
``modelspec.pretrained.checks.check``, the same function a build raises them from; a layer counts as loaded
when `map` names it or a `freeze` pattern matches it. `modelspec build --plan` reads the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from modelspec.diagnostics import Level
from modelspec.linter.rule import Docs, Finding, Rule, Subject
from modelspec.linter.rules.doc_parts import spec
from modelspec.pretrained import checks

KERAS_TRANSFER = "Keras transfer learning guide: https://keras.io/guides/transfer_learning/"
PLAN = "modelspec build --plan SPEC prints what each layer gets from the file (README, Pretrained weights)"
_BODY = (
    "  - {type: dense, name: hidden1, units: 64, activation: relu}\n"
    "  - {type: dense, name: hidden2, units: 64, activation: relu}\n"
    "  - {type: dense, name: head, units: 10, activation: softmax}\n"
)


def _reported(code: tuple[str, str]):
    """A rule's check that reports the shared pretrained check's problems of one code."""

    def check(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
        for problem in subject.pretrained_problems:
            if problem.code == code:
                yield Finding(problem.path, problem.message, hint=problem.hint, layer=problem.where)

    return check


MS401 = Rule(
    code=checks.FILE[0],
    name=checks.FILE[1],
    level=Level.ERROR,
    summary="the pretrained weights file does not exist, or its path leaves the spec's project",
    check=_reported(checks.FILE),
    docs=Docs(
        what="Flags a `pretrained.path` that names no file (relative to the spec's folder), or that the path "
        "policy refuses: an absolute path, or one that leaves the tree the spec lives in (its project: the "
        "nearest folder above it with `.git` or `pyproject.toml`; or the current folder when the spec is "
        "inside it), or that goes through a symbolic link leading outside that tree (links are resolved before "
        "the policy applies). It also names a path that is not a regular file (a folder, a named pipe) or that "
        "the file system refuses (a name too long). A build refuses the same paths.",
        why="The build would stop at the missing file; CI finds it earlier, without TensorFlow. A path written "
        "relative to the current folder instead of the spec's folder works on one machine and fails on the "
        "next, and a spec that reaches outside its project could make modelspec read any file on the machine; "
        "git stores symbolic links, so a pull request can add `base.weights.h5 -> /any/file` as easily.",
        example=spec(_BODY, extra="pretrained:\n  path: missing.weights.h5\n"),
        use_instead=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n"),
        known_problems="Calibration: docs/calibration.md, MS401's row: the build refuses the same paths "
        "(tests/test_weights.py::test_a_missing_file_is_located_in_lint_and_build_alike).",
        references=PLAN,
    ),
)


def _everything_frozen(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    block = subject.spec.pretrained
    if block is None or isinstance(block.freeze, bool):
        return
    weighted = checks.weighted_layers(subject.model)
    frozen = checks.frozen_by_patterns(subject.model, block) | {
        name
        for name in weighted
        if not subject.analysis.layers[name].trainable_params and subject.analysis.layers[name].params
    }
    if weighted and set(weighted) <= frozen:
        yield Finding(
            ("pretrained", "freeze"),
            f"every layer with weights is frozen ({len(weighted)} layers): training changes nothing",
            hint="leave the new head (at least) out of `freeze`",
        )


MS402 = Rule(
    code="MS402",
    name="everything-frozen",
    level=Level.WARNING,
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
        known_problems="Calibrated (docs/calibration.md, MS402's row; `benchmarks/calibration.py --only frozen "
        "--seeds 2`; "
        "digits, 12 epochs, 2 seeds): a ReLU MLP with every weighted layer frozen (`trainable: false`) stays "
        "at its random start, 0.169 accuracy against 0.862 with the head trainable. The study freezes with "
        "`trainable:` because the rule itself fires only on a `pretrained:` block; the freezing is the same.",
        references=KERAS_TRANSFER,
    ),
)


MS403 = Rule(
    code=checks.UNMAPPED[0],
    name=checks.UNMAPPED[1],
    level=Level.ERROR,
    summary="a `map` key or `freeze` pattern matches no layer",
    check=_reported(checks.UNMAPPED),
    docs=Docs(
        what="Flags a `pretrained.map` key that is not a layer with weights of this spec, and a `freeze` pattern "
        "that matches none of them (patterns match whole names, as `re.fullmatch`) or is not a valid "
        "regular expression.",
        why="A typo in `map` or `freeze` silently does nothing: the layer you meant to load starts from random "
        "weights, or the layer you meant to freeze is trained and forgets what it learned. The build refuses "
        "both; lint says so before TensorFlow starts.",
        example=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n  map: {encoder: dense}\n"),
        use_instead=spec(_BODY, extra="pretrained:\n  path: base.weights.h5\n  map: {hidden1: dense}\n"),
        known_problems="Calibration: docs/calibration.md, MS403's row: the weight-loading plan refuses the same "
        "`map` keys "
        "and `freeze` patterns (tests/test_weights.py::test_spec_mistakes_are_located).",
        references=PLAN,
    ),
)


def _init_overridden(subject: Subject, options: Mapping[str, float]) -> Iterator[Finding]:
    block = subject.spec.pretrained
    if block is None:
        return
    loaded = set(block.map) | checks.frozen_by_patterns(subject.model, block)
    keys = subject.document.key_locations
    for name in sorted(loaded, key=lambda n: subject.analysis.layers[n].index if n in subject.analysis.layers else 0):
        info = subject.analysis.layers.get(name)
        if info is None:
            continue
        core = (info.spec.CORE_FIELD,) if info.spec.CORE_FIELD else ()
        for slot in info.initializers:
            path = info.path + core + (slot,)
            if path in keys:
                yield Finding(
                    path,
                    f"'{name}' sets {slot}, but its weights are replaced by the pretrained "
                    f"weights: the initializer is never used",
                    layer=name,
                    hint=f"remove {slot} from '{name}'",
                )


MS404 = Rule(
    code="MS404",
    name="init-overridden",
    level=Level.INFO,
    summary="an explicit initializer on a layer that pretrained weights replace",
    check=_init_overridden,
    docs=Docs(
        what="Flags an initializer written on a layer that the `pretrained:` block loads. Lint does not read the "
        "file, so a layer counts as loaded when `map` names it or a `freeze` pattern matches it.",
        why="The initializer runs, and its values are then overwritten by the file's: the setting has no effect, "
        "and a reader of the spec believes it does.",
        example=spec(
            "  - {type: dense, name: hidden1, units: 64, activation: relu, kernel_initializer: he_normal}\n"
            "  - {type: dense, name: head, units: 10, activation: softmax}\n",
            extra="pretrained:\n  path: base.weights.h5\n  freeze: [hidden1]\n",
        ),
        use_instead=spec(
            "  - {type: dense, name: hidden1, units: 64, activation: relu}\n"
            "  - {type: dense, name: head, units: 10, activation: softmax}\n",
            extra="pretrained:\n  path: base.weights.h5\n  freeze: [hidden1]\n",
        ),
        references=KERAS_TRANSFER,
    ),
)
