"""Each rule's fix, by code: what to change in the spec for one finding, and how safe that is.

A fixer reads the finding (its spec path, its layer) and the analysed spec, and proposes ``Proposal``s in the
paths of the composed, expanded spec; the engine (engine.py) finds where each is written in the file and edits
the text. What to write comes from the rule's own facts: the initializer its hint names, the optimizer's
``START_LEARNING_RATE``, the activation its hint names. A fixer raises ``NoFix`` when this finding has no one
fix (the hint offers a choice, or the value is not written where an edit could change it).

Applicability, as ruff's: *safe* changes only what the rule's docs say is wrong and cannot change the
architecture or what the model computes; *unsafe* changes what the model computes or how it is trained, and
runs only with `--unsafe-fixes`; *none*: the rule has no fix (its hint leaves a choice to the author).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelspec.diagnostics import Diagnostic
from modelspec.fixing.edits import REMOVE, SET, Change
from modelspec.linter.rule import Finding, Subject
from modelspec.linter.rules.initialization.seeds import SUGGESTED_SEED

SAFE, UNSAFE, NONE = "safe", "unsafe", "none"
APPLICABILITIES = (SAFE, UNSAFE, NONE)


class NoFix(Exception):
    """This finding has no fix; the message says why (shown in ``FixResult.skipped``)."""


@dataclass(frozen=True)
class Proposal:
    """One change a fix proposes, in the expanded spec's paths, with its applicability and a description."""

    change: Change
    applicability: str
    description: str


Fixer = Callable[[Subject, Finding, Diagnostic], list[Proposal]]


def _value(subject: Subject, path: tuple) -> Any:
    value: Any = subject.document.data
    for part in path:
        value = value[part]
    return value


def _show(path: tuple) -> str:
    """The field a change is at, as a person reads it: `kernel_initializer`, `kernel_initializer.seed`."""
    words = [str(part) for part in path if not isinstance(part, int)]
    return ".".join(words[-2:]) if words and words[-1] in ("type", "seed") and len(words) > 1 else words[-1]


def _own(subject: Subject, name: str, slot: str) -> tuple:
    """Where ``slot`` of layer ``name`` is (or would be) written on the layer itself."""
    info = subject.analysis.layers[name]
    return tuple(info.path) + ((info.spec.CORE_FIELD,) if info.spec.CORE_FIELD else ()) + (slot,)


def _written(subject: Subject, finding: Finding, slot: str) -> tuple[tuple, bool]:
    """Where to write ``slot`` for the finding, and whether it is there already. A value set under `defaults:`,
    which other layers share, is not changed there: the flagged layer gets its own `slot:` key instead."""
    path = tuple(finding.path)
    if path and path[0] == "defaults" and finding.layer in subject.analysis.layers:
        own = _own(subject, finding.layer, slot)
        return own, own in subject.document.value_locations
    if not path or path[-1] != slot:
        if finding.layer in subject.analysis.layers:
            own = _own(subject, finding.layer, slot)
            return own, own in subject.document.value_locations
        raise NoFix(f"`{slot}` is not written on the layer")
    return path, True


def _initializer(value: str, keep_seed: bool = True) -> Fixer:
    """A fixer that writes initializer ``value`` in the flagged slot (the hint's initializer, or `auto`)."""

    def fix(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
        slot = str(finding.path[-1]) if finding.path else ""
        if not slot.endswith("_initializer"):
            raise NoFix("the initializer is not written on the layer itself (an alias repeats another layer?)")
        path, written = _written(subject, finding, slot)
        if not written:
            return [Proposal(Change(SET, path, value), SAFE, f"{slot}: {value} added (`defaults:` stays as it is)")]
        old = _value(subject, path)
        if isinstance(old, dict) and keep_seed and value != "auto" and set(old) <= {"type", "seed"}:
            path, old = path + ("type",), old.get("type")  # {type: he_normal, seed: 3}: keep the seed
        shown = old if isinstance(old, str) else "its initializer"
        return [Proposal(Change(SET, path, value), SAFE, f"{_show(path)}: {shown} -> {value}")]

    return fix


def _shared_seed(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS108: remove the repeated explicit seed (the model's `seed:` then derives a distinct one)."""
    path = tuple(finding.path)
    init = _value(subject, path) if path else None
    if not isinstance(init, dict) or "seed" not in init:
        raise NoFix("the seed is not written on this initializer")
    seed = path + ("seed",)
    return [Proposal(Change(REMOVE, seed), SAFE, f"{_show(seed)}: removed (was {init['seed']})")]


def _unseeded(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS109: add the model seed the hint names, after `name:` (else after `modelspec:`)."""
    after = "name" if ("name",) in subject.document.key_locations else "modelspec"
    return [Proposal(Change(SET, ("seed",), SUGGESTED_SEED, after=after), SAFE, f"seed: {SUGGESTED_SEED} added")]


def _useless_bias(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS202: `use_bias: false` on the layer (set, or added to its mapping; `defaults:` stays as it is)."""
    path, written = _written(subject, finding, "use_bias")
    return [Proposal(Change(SET, path, False), SAFE, f"use_bias: {'true -> false' if written else 'false added'}")]


def _learning_rate(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS303: the optimizer's usual starting rate, as the hint says."""
    path = tuple(finding.path)
    if path not in subject.document.value_locations:
        raise NoFix("the learning rate is not written in the spec")
    rate = subject.spec.training.optimizer.START_LEARNING_RATE
    return [Proposal(Change(SET, path, rate), SAFE, f"{_show(path)}: {_value(subject, path)} -> {rate:g}")]


def _selu(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS104: lecun_normal on the kernel (safe), or alpha_dropout for the dropout after selu (unsafe: another
    layer type, which computes something else in training)."""
    if finding.path and finding.path[-1] == "type":
        path = tuple(finding.path)
        return [Proposal(Change(SET, path, "alpha_dropout"), UNSAFE, f"{_show(path)}: dropout -> alpha_dropout")]
    return _initializer("lecun_normal")(subject, finding, diagnostic)


def _set_activation(subject: Subject, name: str, value: str) -> list[Proposal]:
    """`activation: VALUE` on layer ``name``: replaced where it is written on the layer, else added to it (a
    linear default, or a value of `defaults:`, which other layers share and which stays as it is)."""
    path = _own(subject, name, "activation")
    written = next((p for p in (path, ("defaults", "activation")) if p in subject.document.value_locations), None)
    old = _value(subject, written) if written else "linear"
    return [Proposal(Change(SET, path, value), UNSAFE, f"{_show(path)}: {old} -> {value}")]


def _double_activation(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS201: the hint's concrete edit, `activation: linear` on the layer before (one activation is left)."""
    info = subject.analysis.layers[finding.layer]
    producer = subject.analysis.producer(info.inputs[0]) if info.inputs else None
    if producer is None:
        raise NoFix("no layer before it to make linear")
    return _set_activation(subject, producer.name, "linear")


def _hidden_softmax(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS203: relu, as the hint says, on the hidden layer."""
    if finding.layer is None:
        raise NoFix("the finding names no layer")
    return _set_activation(subject, finding.layer, "relu")


def _output_fit(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS301, MS302: the output activation and the loss the finding suggests (its hint names them)."""
    suggests = finding.suggests
    if suggests is None or (suggests.activation is None and suggests.loss is None):
        raise NoFix("the hint offers a choice: fix it by hand")
    found = []
    if suggests.activation is not None:
        if finding.layer is None:
            raise NoFix("the finding names no layer")
        found += _set_activation(subject, finding.layer, suggests.activation)
    if suggests.loss is not None:
        path = tuple(finding.path)
        old = _value(subject, path) if path in subject.document.value_locations else None
        if isinstance(old, dict) and set(old) == {"type"}:
            path, old = path + ("type",), old["type"]
        if not isinstance(old, str):
            raise NoFix("the loss is not written as a name")
        found.append(Proposal(Change(SET, path, suggests.loss), UNSAFE, f"{_show(path)}: {old} -> {suggests.loss}"))
    return found


def _monitor(subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """MS305: the quantity the finding suggests, when its hint names one (a misspelling, an alias, the output's
    prefix)."""
    path = tuple(finding.path)
    if finding.suggests is None or finding.suggests.monitor is None or path not in subject.document.value_locations:
        raise NoFix("the hint offers a choice: fix it by hand")
    name = finding.suggests.monitor
    return [Proposal(Change(SET, path, name), UNSAFE, f"monitor: {_value(subject, path)} -> {name}")]


# code -> (applicability shown for the rule, fixer, what the fix does): one table, read by `modelspec rules`,
# docs/rules.md and the engine. A rule that is not listed has no fix.
FIXES: dict[str, tuple[str, Fixer, str]] = {
    "MS101": (
        SAFE,
        _initializer("auto"),
        "replaces the constant kernel with `auto` (He or Glorot, from the activation)",
    ),
    "MS102": (SAFE, _initializer("glorot_uniform"), "replaces the He initializer with glorot_uniform"),
    "MS103": (SAFE, _initializer("he_normal"), "replaces the Glorot or LeCun initializer with he_normal"),
    "MS104": (
        SAFE,
        _selu,
        "replaces the kernel's initializer with lecun_normal; plain dropout after selu becomes alpha_dropout (unsafe)",
    ),
    "MS105": (SAFE, _initializer("auto"), "replaces the non-zero-mean initializer with `auto`"),
    "MS106": (SAFE, _initializer("auto"), "replaces the fixed-scale initializer with `auto`"),
    "MS107": (SAFE, _initializer("auto"), "replaces the recurrent initializer with `auto` (orthogonal)"),
    "MS112": (SAFE, _initializer("zeros"), "starts the bias at zero (`bias_initializer: zeros`)"),
    "MS108": (SAFE, _shared_seed, "removes the repeated explicit seed (the model's `seed:` derives one)"),
    "MS109": (SAFE, _unseeded, f"adds `seed: {SUGGESTED_SEED}` at the top level"),
    "MS202": (SAFE, _useless_bias, "sets `use_bias: false` on the layer before batch_norm"),
    "MS303": (SAFE, _learning_rate, "replaces the learning rate with the optimizer's usual starting rate"),
    "MS201": (UNSAFE, _double_activation, "sets `activation: linear` on the layer before the second activation"),
    "MS203": (UNSAFE, _hidden_softmax, "replaces the hidden layer's softmax with relu"),
    "MS301": (
        UNSAFE,
        _output_fit,
        "writes the output activation or the loss the hint names, when it names one (else none)",
    ),
    "MS305": (
        UNSAFE,
        _monitor,
        "watches the quantity the hint names, when it names one (the callback then acts: training changes)",
    ),
    "MS302": (
        UNSAFE,
        _output_fit,
        "a 1-unit output becomes one sigmoid unit (with binary_crossentropy under a categorical loss); "
        "the number of classes is yours to set",
    ),
}


def applicability(code: str) -> str:
    """The fix applicability of rule ``code``: "safe", "unsafe" or "none"."""
    entry = FIXES.get(code)
    return entry[0] if entry else NONE


def describe(code: str) -> str:
    """`Fix: safe — replaces ...`: the rule's applicability and what its fix does, one line."""
    entry = FIXES.get(code)
    if entry is None:
        return "none — no automatic fix: the hint leaves a choice to the author"
    return f"{entry[0]} — {entry[2]}"


def proposals(code: str, subject: Subject, finding: Finding, diagnostic: Diagnostic) -> list[Proposal]:
    """The changes the fix of ``code`` proposes for ``finding``; raises ``NoFix`` when it has none."""
    entry = FIXES.get(code)
    if entry is None:
        raise NoFix(f"{code} has no automatic fix")
    return entry[1](subject, finding, diagnostic)


__all__ = ["APPLICABILITIES", "FIXES", "NONE", "SAFE", "UNSAFE", "NoFix", "Proposal", "applicability"]
