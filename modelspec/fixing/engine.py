"""`modelspec.fix`: lint a spec's text, apply the fixes of its findings as minimal text edits, check the result.

One round: lint, ask each finding's fixer for its changes, find where each is written in this file, turn them
into text edits, drop the conflicting ones, edit, then check: the text read again must hold the original data
except at the paths the fixes declared, it must validate, and the fixed findings must be gone. When a round
fails the check, its fixes are tried one at a time in order, each kept if it passes with those kept before it: one
that fails alone is reported with an internal-error note, one that fails only beside the others (two fixes of one
output that each undo the other's reason) as a conflict, judged again on the fixed text. Rounds
repeat (a fix can reveal another finding) until one has nothing left to apply — so fixing the result again
changes nothing — at most ``MAX_ROUNDS`` times.

Conflicts: two fixes whose edits touch the same text. The order that decides is the findings' order: errors
before warnings before info, then by rule code, then by place; the later fix is reported in ``skipped``.
Identical edits (two findings that want the same value in the same place, or every use of a block that wants
the same fix in its definition) are made once.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Union

from modelspec import source
from modelspec.diagnostics import Diagnostic, Level, SpecError
from modelspec.fixing import edits, fixers, spans
from modelspec.fixing.edits import Change, Refused, TextEdit
from modelspec.linter.config import LintConfig
from modelspec.linter.rule import Finding, Subject
from modelspec.linter.runner import DEFAULT_CONFIG, located
from modelspec.loader import ModelSpec, from_document

MAX_ROUNDS = 4
# What a bug (of a fixer, or of lint on a fixed text) raises: reported as an internal error, never a traceback.
_BUGS = (KeyError, IndexError, TypeError, AttributeError, ValueError, ArithmeticError)
_LEVEL_ORDER = {Level.ERROR: 0, Level.WARNING: 1, Level.INFO: 2}


@dataclass(frozen=True)
class AppliedFix:
    """A fix that was made: the rule, the path it changed in the file's data, its applicability, what it did."""

    code: str
    path: tuple
    applicability: str
    description: str


@dataclass(frozen=True)
class SkippedFix:
    """A finding whose fix was not made, and why (unsafe without ``unsafe=True``, a conflict, no place to edit,
    a failed check)."""

    code: str
    line: int
    column: int
    reason: str


@dataclass(frozen=True)
class FixResult:
    """What ``fix`` did to a spec's text."""

    text: str
    applied: tuple[AppliedFix, ...] = ()
    remaining: tuple[Diagnostic, ...] = ()
    skipped: tuple[SkippedFix, ...] = ()
    original: str = field(default="", repr=False)

    @property
    def changed(self) -> bool:
        """Whether the text changed."""
        return self.text != self.original

    @property
    def unsafe_skipped(self) -> int:
        """How many fixes wait for ``unsafe=True`` (`--unsafe-fixes`)."""
        return sum(1 for skip in self.skipped if skip.reason == UNSAFE_REASON)


UNSAFE_REASON = "unsafe fix: needs --unsafe-fixes"


@dataclass
class _Planned:
    """One proposal of one finding, placed in the file."""

    diagnostic: Diagnostic
    finding: Finding
    proposal: fixers.Proposal
    raw: Change
    edit: TextEdit
    where: tuple  # (line, column) of the value in the file: what the uses of a block share


def load(text: str, path: str) -> ModelSpec:
    """The spec of ``text`` read as the file ``path`` (its `extends:` and `pretrained:` resolved from there)."""
    return from_document(source.parse(text, path))


def fix(
    text: str,
    *,
    path: Union[str, os.PathLike] = "<spec>",
    unsafe: bool = False,
    config: Optional[LintConfig] = None,
) -> FixResult:
    """Fix the findings of spec ``text`` that have a fix, as minimal text edits; return the fixed text, the fixes
    made, the findings that remain and the fixes not made.

    ``path`` names the file in diagnostics and locates relative `extends:` and `pretrained:` paths. Unsafe fixes
    run only with ``unsafe=True``. ``config``: the lint configuration (default: every rule at its level).

    Raises ``SpecError`` when ``text`` is not a valid spec (nothing is fixed). Never imports TensorFlow.
    """
    path = os.fspath(path)
    config = config or DEFAULT_CONFIG
    model = load(text, path)
    # A spec without `extends:` or blocks: its document's data is the file's, as written (nothing reads it back).
    raw = model.document.data if not model.document.origins and model.document.path == path else None
    state = _State(text, model, located(model, config), raw)
    applied, skipped = [], []
    for _ in range(MAX_ROUNDS):
        outcome = _round(state, config, unsafe)
        skipped = outcome.skipped
        if not outcome.made:
            break
        state = outcome.state
        applied += outcome.made
    else:
        pending = _round(state, config, unsafe)
        if pending.made:
            skipped = pending.skipped + [
                _skip(one.diagnostic, f"internal error: fixes did not settle after {MAX_ROUNDS} rounds")
                for one in pending.planned
            ]
    remaining = tuple(diagnostic for diagnostic, _ in state.found)
    return FixResult(state.text, tuple(applied), remaining, tuple(skipped), original=text)


@dataclass
class _State:
    """A text between rounds: its spec, its findings (each linted once), and its data as written (None: not read
    yet; the check of a round leaves the data it verified)."""

    text: str
    model: ModelSpec
    found: list
    raw: Optional[dict]


@dataclass
class _Outcome:
    state: _State
    made: list[AppliedFix]
    skipped: list[SkippedFix]
    planned: list[_Planned] = field(default_factory=list)


def _skip(diagnostic: Diagnostic, reason: str) -> SkippedFix:
    return SkippedFix(diagnostic.code, diagnostic.line, diagnostic.column, reason)


def _round(state: _State, config: LintConfig, unsafe: bool) -> _Outcome:
    """Plan the fixes of the state's findings and make those that pass the checks."""
    pairs = [(d, f) for d, f in state.found if f is not None and d.code in fixers.FIXES]
    if not pairs:
        return _Outcome(state, [], [])
    pairs.sort(key=lambda pair: (_LEVEL_ORDER.get(pair[0].level, 3), pair[0].code, pair[0].line, pair[0].column))
    text, model = state.text, state.model
    measured = spans.measure(text)
    raw = state.raw if state.raw is not None else source.parse(text, model.path).data
    planned, skipped = _plan(pairs, model, measured, unsafe)
    if not planned:
        return _Outcome(state, [], skipped)
    blamed, reason, checked = _try(raw, text, model.path, planned, config)
    accepted = planned
    if blamed:  # one at a time, in order: keep each fix that passes with those kept before it
        accepted, checked = [], None
        for one in planned:
            trial = accepted + [one]
            failed, why, result = _try(raw, text, model.path, trial, config)
            if not failed:
                accepted, checked = trial, result
            elif accepted and not _try(raw, text, model.path, [one], config)[0]:
                made = ", ".join(sorted({kept.diagnostic.code for kept in accepted}))
                skipped.append(_skip(one.diagnostic, f"conflicts with the fixes made before it ({made})"))
            else:
                skipped.append(_skip(one.diagnostic, f"internal error: {why}; the fix was not made"))
        if not accepted:
            return _Outcome(state, [], skipped)
    made = [
        AppliedFix(one.diagnostic.code, one.raw.path, one.proposal.applicability, _described(one)) for one in accepted
    ]
    return _Outcome(checked, made, skipped, accepted)


def _try(raw, text: str, path: str, chosen: list[_Planned], config: LintConfig):
    """Make ``chosen``'s edits in ``text`` and check the result (``_check``)."""
    return _check(raw, edits.apply_edits(text, [one.edit for one in chosen]), path, chosen, config)


def _plan(pairs, model: ModelSpec, measured: spans.Spans, unsafe: bool) -> tuple[list[_Planned], list[SkippedFix]]:
    """Each finding's proposals placed in the file as text edits, minus what cannot be made or conflicts."""
    doc = model.document
    subject = Subject(model)
    placed: list[_Planned] = []
    skipped: list[SkippedFix] = []
    for diagnostic, finding in pairs:
        try:
            proposals = fixers.proposals(diagnostic.code, subject, finding, diagnostic)
            if not unsafe and any(p.applicability == fixers.UNSAFE for p in proposals):
                skipped.append(_skip(diagnostic, UNSAFE_REASON))
                continue
            placed += [_place(doc, measured, diagnostic, finding, proposal) for proposal in proposals]
        except (fixers.NoFix, Refused) as exc:
            skipped.append(_skip(diagnostic, str(exc)))
        except _BUGS as exc:  # a fixer's bug: not the user's
            skipped.append(_skip(diagnostic, f"internal error: the fix failed ({type(exc).__name__}: {exc})"))
    shares = _shares(doc)
    wanted = Counter((one.where, one.edit) for one in placed)
    kept: list[_Planned] = []
    for one in placed:
        users, count = shares.get(one.where, 1), wanted[(one.where, one.edit)]
        if users > 1 and count < users:
            skipped.append(
                _skip(
                    one.diagnostic,
                    f"the value at line {one.where[0]} is shared by {users} places (a block's definition or a "
                    f"parameter's default) and only {count} want{'s' if count == 1 else ''} this fix: give the "
                    "block a parameter for it, or fix it by hand",
                )
            )
            continue
        clash = next((k for k in kept if k.edit.overlaps(one.edit)), None)
        if clash is not None:
            skipped.append(_skip(one.diagnostic, f"conflicts with the fix of {clash.diagnostic.code} (applied first)"))
            continue
        kept.append(one)  # an edit that another kept fix makes too is made once (edits.apply_edits)
    return kept, skipped


def _place(doc: source.Document, measured: spans.Spans, diagnostic: Diagnostic, finding: Finding, proposal) -> _Planned:
    """Where in this file ``proposal``'s change is written, as a change of the file's own data and a text edit."""
    change = proposal.change
    adding = change.op == edits.SET and change.path not in doc.value_locations
    target = change.path[:-1] if adding else change.path
    if target not in doc.value_locations:
        raise Refused(f"{'.'.join(map(str, target))} is not written in the spec")
    file, line, column, _ = doc.place(target)
    where = doc.value_locations[target]
    if file != doc.path:
        raise Refused(f"set in {file}:{where[0]}:{where[1]}; only the file being linted is fixed")
    raw_path = measured.at.get(where)
    if raw_path is None:
        raise Refused(f"cannot find line {where[0]} column {where[1]} in the text")
    raw = Change(change.op, raw_path + ((change.path[-1],) if adding else ()), change.value, change.after)
    return _Planned(diagnostic, finding, proposal, raw, edits.edit(measured, raw), where)


def _shares(doc: source.Document) -> dict[tuple, int]:
    """(line, column) of a value in this file -> how many places of the expanded spec it gives their value (more
    than one: a block's definition, or a parameter's default)."""
    if not doc.origins:
        return {}
    counts: Counter = Counter()
    for path, where in doc.value_locations.items():
        if doc.place(path)[0] == doc.path:
            counts[where] += 1
    return counts


def _check(raw, new_text: str, path: str, chosen: list[_Planned], config: LintConfig):
    """Check an edited text: it reads back as the data with exactly the declared changes, validates, and lacks
    the fixed findings. Returns (ids of the fixes to blame, why, the new state); no blame: it passed."""
    everyone = {id(one) for one in chosen}
    expected = edits.apply_changes(raw, [one.raw for one in chosen])
    try:
        document = source.parse(new_text, path)
    except SpecError as exc:
        return everyone, f"the edited text does not read back ({exc.diagnostics[0].message})", None
    if document.data != expected:
        return everyone, "the edited text does not read back as the intended data", None
    try:
        model = from_document(document)
    except SpecError as exc:
        return everyone, f"the fixed spec does not validate ({exc.diagnostics[0].message})", None
    except _BUGS as exc:
        return everyone, f"reading the fixed spec failed ({type(exc).__name__}: {exc})", None
    try:
        found = located(model, config)
    except _BUGS as exc:  # lint's own bug on the fixed text: the fix is not made, and lint of the file still runs
        return everyone, f"linting the fixed text failed ({type(exc).__name__}: {exc})", None
    after = {(d.code, tuple(f.path), f.layer) for d, f in found if f is not None}
    stayed = {id(one) for one in chosen if _finding_key(one) in after}
    if stayed:
        return stayed, "the finding is still reported after the fix", None
    return set(), "", _State(new_text, model, found, expected)


def _described(one: _Planned) -> str:
    where = f"line {one.diagnostic.line}" + (f", '{one.finding.layer}'" if one.finding.layer else "")
    return f"{where}: {one.proposal.description}"


def _finding_key(one: _Planned) -> tuple:
    return (one.diagnostic.code, tuple(one.finding.path), one.finding.layer)


__all__ = ["AppliedFix", "FixResult", "SkippedFix", "fix"]
