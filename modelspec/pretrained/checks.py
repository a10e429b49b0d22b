"""The checks of a `pretrained:` block that need no weights file read: where the file may be and whether it is
there, and whether `map` keys and `freeze` patterns name layers of the spec.

One pure function, ``check``, serves both sides: `modelspec lint` reports its problems as MS401 and MS403, and
a build raises them as errors before anything is loaded. The path policy (docs/security.md): a spec's path is
relative to the spec's folder and may leave it, but not the tree the spec lives in — its project (the nearest
folder above it with `.git` or `pyproject.toml`), or the current folder when the spec is inside it, checked on the
written path and again where its symbolic links lead. A path given by the person running modelspec (`--weights`,
``weights=``) is trusted as it is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from modelspec.archives import regular_file
from modelspec.diagnostics import Diagnostic, Level
from modelspec.errors import SpecError
from modelspec.schema.pretrained import Pretrained, compile_pattern
from modelspec.validation_errors import spec_path_text

if TYPE_CHECKING:
    from modelspec.loader import ModelSpec

# The lint rules that report these problems; a build stops on them.
FILE = ("MS401", "pretrained-file-missing")
UNMAPPED = ("MS403", "pretrained-unmapped")
PROJECT_MARKERS = (".git", "pyproject.toml")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the `pretrained:` block, at ``path`` in the spec."""

    code: tuple[str, str]  # FILE or UNMAPPED
    path: tuple
    message: str
    hint: Optional[str] = None

    @property
    def where(self) -> str:
        """The field as a spec path: ``pretrained.freeze[0]``."""
        return spec_path_text(self.path)


def settings(model: ModelSpec, weights=None) -> Optional[Pretrained]:
    """The `pretrained:` block in force: the spec's, with ``weights`` (command line / API) replacing its path."""
    block = model.spec.pretrained
    if weights is None:
        return block
    block = block or Pretrained(path=os.fspath(weights))
    return block.model_copy(update={"path": os.fspath(weights)})


def weighted_layers(model: ModelSpec) -> list[str]:
    """The spec's layers that have (or, opaque, may have) weights: the ones a file can load into."""
    return [name for name, info in model.analysis.layers.items() if info.variables != []]


def freeze_patterns(block: Pretrained) -> list[tuple[int, Union[re.Pattern, str]]]:
    """Each `freeze` entry's index and compiled pattern, or the reason it cannot be used."""
    return [] if isinstance(block.freeze, bool) else [(i, compile_pattern(text)) for i, text in enumerate(block.freeze)]


def frozen_by_patterns(model: ModelSpec, block: Pretrained) -> set[str]:
    """The weighted layers a `freeze` pattern matches (whole names)."""
    patterns = [p for _, p in freeze_patterns(block) if isinstance(p, re.Pattern)]
    return {name for name in weighted_layers(model) if any(p.fullmatch(name) for p in patterns)}


def project_root(folder: Path) -> Optional[Path]:
    """The nearest folder at or above ``folder`` that holds `.git` or `pyproject.toml`, or None."""
    folder = Path(os.path.abspath(folder))
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return None


def allowed_roots(model: ModelSpec) -> list[Path]:
    """The folders a spec's relative weights path may reach (``roots_of`` the spec's folder)."""
    return roots_of(model.folder)


def roots_of(folder: Union[str, os.PathLike]) -> list[Path]:
    """The folders a relative path written in a spec in ``folder`` may reach (weights, `extends:`): the spec's
    folder and its project; outside any project, the current folder when the spec is inside it. (Inside a project
    the current folder adds nothing: run from `/` or from a home folder, it would open the whole machine to a spec
    from a pull request.)"""
    folder = Path(os.path.abspath(folder))
    project = project_root(folder)
    if project is not None:
        return [folder, project]
    here = Path(os.path.abspath(Path.cwd()))
    return [folder, here] if here in folder.parents else [folder]


def contained(folder: Union[str, os.PathLike], text: str, field: str) -> Union[Path, str]:
    """The file a relative path ``text`` written in a spec in ``folder`` names, or why the path policy refuses it
    (the message names the spec's ``field``): relative, with '/', inside ``roots_of(folder)``, also where its
    symbolic links lead."""
    if os.path.isabs(text) or re.match(r"^[A-Za-z]:", text) or "\\" in text:
        return f"{field} must be relative to the spec's folder, with '/' between folders (received: {text!r})"
    target = Path(os.path.normpath(os.path.join(os.path.abspath(folder), text)))
    roots = roots_of(folder)
    if not _inside(target, roots):
        return (
            f"{field} leaves the spec's tree ({roots[-1]}): a spec may only name files inside the project it lives "
            f"in (received: {text!r})"
        )
    # Symbolic links are resolved before the policy applies (git stores links, so a pull request can add
    # `base.weights.h5 -> /any/file`). The message is the same whether or not the file the link names exists.
    if not _inside(Path(os.path.realpath(target)), [Path(os.path.realpath(root)) for root in roots]):
        return (
            f"{field} goes through a symbolic link that leads outside the spec's tree ({roots[-1]}): a spec may "
            f"only name files inside the project it lives in (received: {text!r})"
        )
    return target


def weights_file(model: ModelSpec, weights=None) -> Union[Path, Problem]:
    """Where the weights file is, or the problem with the spec's path. ``weights`` is taken as given."""
    if weights is not None:
        return Path(weights)
    text = model.spec.pretrained.path
    found = contained(model.folder, text, "pretrained.path")
    if isinstance(found, str):
        hint = (
            "write the path from the spec's folder (e.g. ../weights/base.weights.h5), or pass the file with "
            "`modelspec build --weights FILE`"
            if "relative" in found.split(":")[0]
            else "keep the weights inside the project (a weights/ folder beside specs/ is fine), or pass the file "
            "with `modelspec build --weights FILE`"
        )
        return Problem(FILE, ("pretrained", "path"), found, hint=hint)
    return found


def _inside(target: Path, roots: list[Path]) -> bool:
    return any(target == root or root in target.parents for root in roots)


def check(model: ModelSpec, weights=None) -> list[Problem]:
    """Check the `pretrained:` settings in force (``weights`` replaces the spec's path) without reading the
    file: the path policy and the file's existence, `map` keys and `freeze` patterns. Empty without weights."""
    block = settings(model, weights)
    if block is None:
        return []
    problems = []
    located = weights_file(model, weights)
    if isinstance(located, Problem):
        problems.append(located)
    elif weights is None and (why := regular_file(located)) is not None:
        where = model.folder if not model.path.startswith("<") else "the current folder"
        what = "does not exist" if why == "no such file" else f"is {why}" if why.startswith("a ") else why
        problems.append(
            Problem(
                FILE,
                ("pretrained", "path"),
                f"pretrained weights file {block.path!r} {what} (looked in {where})",
                hint="write the path relative to the spec's folder, or pass the file with "
                "`modelspec build --weights FILE`",
            )
        )
    weighted = weighted_layers(model)
    listing = ", ".join(weighted)
    for key in block.map:
        if key not in weighted:
            known = "no layer" if key not in model.analysis.layers else "a layer without weights"
            problems.append(
                Problem(
                    UNMAPPED,
                    ("pretrained", "map", key),
                    f"map names {known} of this spec (received: {key!r})",
                    hint=f"map keys are this spec's layers with weights: {listing}",
                )
            )
    for index, pattern in freeze_patterns(block):
        if isinstance(pattern, str):
            problems.append(
                Problem(
                    UNMAPPED,
                    ("pretrained", "freeze", index),
                    pattern,
                    hint="write a layer name, or a regular expression matched against whole names",
                )
            )
        elif not any(pattern.fullmatch(name) for name in weighted):
            problems.append(
                Problem(
                    UNMAPPED,
                    ("pretrained", "freeze", index),
                    f"freeze pattern matches no layer with weights (received: {pattern.pattern!r})",
                    hint=f"patterns match whole names: {listing}",
                )
            )
    return problems


def located(model: ModelSpec, problem: Problem, level: Level = Level.ERROR) -> Diagnostic:
    """The diagnostic of a problem, at its line and column in the spec."""
    file, line, column, uses = model.document.place(problem.path)
    return Diagnostic(
        file, line, column, problem.code[0], problem.code[1], level, problem.message, problem.hint, problem.where, uses
    )


def ensure_usable(model: ModelSpec, weights=None) -> Optional[tuple[Pretrained, Path]]:
    """The settings in force and the file to read, or None when nothing loads; raise ``SpecError`` with every
    problem ``check`` finds."""
    problems = check(model, weights)
    if problems:
        raise SpecError([located(model, problem) for problem in problems])
    block = settings(model, weights)
    return None if block is None else (block, weights_file(model, weights))
