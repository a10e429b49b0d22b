"""One format for every finding: validation errors and lint results alike."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from modelspec.errors import (
    SpecError,  # noqa: F401  (raised with diagnostics; importable from here too)
    printable,
)


class Level(str, enum.Enum):
    """How serious a finding is."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


# Structural codes: always on, never ignorable. Lint rules have their own registry.
INVALID_SPEC = ("MS001", "invalid-spec")
SHAPE_MISMATCH = ("MS002", "shape-mismatch")
UNKNOWN_REFERENCE = ("MS003", "unknown-reference")
DATA_MISMATCH = ("MS004", "data-mismatch")  # `lint --data`: data that `train` would refuse, at the spec field


@dataclass(frozen=True)
class Use:
    """Where a block was used: a finding inside a block's definition names the use(s) that put it in the model."""

    block: str
    path: str
    line: int
    column: int

    def format(self) -> str:
        return f"block {self.block}, used at {printable(self.path, single_line=True)}:{self.line}:{self.column}"

    def to_dict(self) -> dict:
        """The JSON form of DESIGN.md: ``{"path", "line", "column", "name"}``, ``name`` being the block's."""
        return {"path": self.path, "line": self.line, "column": self.column, "name": self.block}


@dataclass(frozen=True)
class Diagnostic:
    """A finding at a place in a spec file.

    ``line`` and ``column`` are 1-based. ``layer`` is the layer name, or the dotted path of the
    offending field in the spec (``layers[2].units``) when the finding is about a field. ``uses``: for a finding
    inside a block's definition, the uses of the block that put it in the model, innermost first.
    """

    path: str
    line: int
    column: int
    code: str
    name: str
    level: Level
    message: str
    hint: str | None = None
    layer: str | None = None
    uses: tuple[Use, ...] = ()

    def format(self) -> str:
        """Render as ``path:line:col: level[CODE] where: message`` plus an indented hint line. Every field is
        :func:`~modelspec.errors.printable` on one line: a file's name or a value quoted cannot start a line."""
        one = self.printable_fields()
        where = self.where(one["layer"])
        text = f"{one['path']}:{self.line}:{self.column}: {self.level}[{self.code}]{where} {one['message']}"
        if self.hint:
            text += f"\n  hint: {one['hint']}"
        return text

    def where(self, layer: str) -> str:
        """The part between the code and the message: `` layer:``, with the block uses in parentheses."""
        uses = f"({'; '.join(use.format() for use in self.uses)})" if self.uses else ""
        shown = " ".join(part for part in (layer, uses) if part)
        return f" {shown}:" if shown else ""

    def printable_fields(self) -> dict[str, str]:
        """The free-text fields (path, layer, message, hint) as a terminal or CI log may show them: control
        characters, newline and tab included, escaped (the text and github reporters print these)."""
        fields = {"path": self.path, "layer": self.layer, "message": self.message, "hint": self.hint}
        return {name: printable(value or "", single_line=True) for name, value in fields.items()}

    def to_dict(self) -> dict:
        """Return the JSON form documented in DESIGN.md; a finding inside a block adds ``use`` (the use of the block
        whose definition holds it) and ``uses`` (every enclosing use, innermost first)."""
        found = {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "name": self.name,
            "level": self.level.value,
            "message": self.message,
            "hint": self.hint,
            "layer": self.layer,
        }
        if self.uses:
            found["use"] = self.uses[0].to_dict()
            found["uses"] = [use.to_dict() for use in self.uses]
        return found


def error(path: str, line: int, column: int, message: str, *, code=INVALID_SPEC, layer=None, hint=None, uses=()):
    """Build an error-level structural diagnostic."""
    return Diagnostic(path, line, column, code[0], code[1], Level.ERROR, message, hint, layer, tuple(uses))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""
