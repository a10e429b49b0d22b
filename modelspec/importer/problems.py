"""What cannot be imported: every problem found, reported at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modelspec.errors import ModelspecError


@dataclass(frozen=True)
class Problem:
    """One layer (or setting) the spec format cannot express, with what to do instead."""

    where: str  # the layer's name (nested: model/layer), or the setting's path
    what: str  # the Keras class, or the setting
    why: str
    suggestion: str = ""

    def format(self) -> str:
        text = f"  {self.where} ({self.what}): {self.why}"
        return text + (f"\n      suggestion: {self.suggestion}" if self.suggestion else "")


class UnsupportedModel(ModelspecError):
    """The model holds layers or settings a spec cannot express (or the source is unreadable or hostile);
    ``problems`` lists every one. Exit code 2."""

    def __init__(self, source: str, problems: Iterable[Problem] = (), message: str = ""):
        self.problems = list(problems)
        if not message:
            count = len(self.problems)
            message = f"{source}: cannot import: {count} layer{'s' if count != 1 else ''} or setting"
            message += f"{'s' if count != 1 else ''} a spec cannot express (nothing was written):\n"
            message += "\n".join(problem.format() for problem in self.problems)
        super().__init__(message)


def refused(source: str, why: str) -> UnsupportedModel:
    """The error for a source that is unreadable or hostile as a whole."""
    return UnsupportedModel(source, message=f"{source}: cannot import: {why}")
