"""The user errors modelspec raises, and the exit code each one means on the command line.

A ``ModelspecError`` is a mistake of the person running modelspec (a bad spec, a bad weights file, a lint
failure, a bad setting): the library raises it with a message that says what to fix, and the command line
prints that message, never a traceback, and exits with the error's ``exit_code``. Anything else is a bug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from modelspec.diagnostics import Diagnostic

EXIT_OK, EXIT_LINT, EXIT_INVALID = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 128 + 2, 128 + 15  # the shell's codes for a process stopped by the signal
EXIT_MEANINGS = {
    EXIT_OK: "clean",
    EXIT_LINT: "lint failures",
    EXIT_INVALID: "invalid spec, unreadable file, unusable weights file or usage error",
    EXIT_SIGINT: "interrupted (Ctrl-C)",
    EXIT_SIGTERM: "stopped by SIGTERM",
}


def exit_codes_help(*codes: int) -> str:
    """Return the `Exit codes:` sentence of a --help text, naming only ``codes`` (the ones a command can return)."""
    return "Exit codes: " + "; ".join(f"{code} {EXIT_MEANINGS[code]}" for code in codes) + "."


EXIT_CODES_HELP = exit_codes_help(*EXIT_MEANINGS)  # every code, for `modelspec --help`

ECHO_LIMIT = 80  # characters of a user's value a message quotes; a longer one is cut, with its length said
# C0 controls but tab and newline, DEL, C1 controls (ESC starts the terminal's escape sequences), bidi overrides
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# the same, and tab, newline and carriage return too: for a field that must stay on its line (a file's name)
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def echoed(value: object, limit: int = ECHO_LIMIT) -> str:
    """A value the user gave (an option, a file's field), as a message quotes it: in quotes, every control
    character escaped, and at most ``limit`` characters (then an ellipsis and the whole length)."""
    text = str(value)
    shown = repr(text[:limit]) if len(text) <= limit else repr(text[:limit])[:-1] + "...'"
    return shown if len(text) <= limit else f"{shown} ({len(text):,} characters)"


def printable(message: object, *, single_line: bool = False) -> str:
    """A message as the terminal gets it: control characters (an ANSI escape sequence in a value it quotes)
    written as escapes, so that no value recolours, moves or clears the terminal. ``single_line`` escapes tab,
    newline and carriage return as well: a file's name (git allows ``a\\n::error ...``) or a one-line error
    then cannot start a line of its own, which a CI log would read as a workflow command."""
    pattern = _CONTROL_LINE if single_line else _CONTROL
    return pattern.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), str(message))


class ModelspecError(Exception):
    """A user error. ``diagnostics`` holds located findings when there are any; ``exit_code`` is 2 unless the
    subclass says otherwise."""

    exit_code = EXIT_INVALID
    diagnostics: list[Diagnostic] = []


class SpecError(ModelspecError):
    """A spec could not be read or is invalid; ``diagnostics`` holds every problem found."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.path, d.line, d.column))
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class WeightsError(ModelspecError):
    """A weights file is missing, unreadable, hostile or does not fit the model. The message names the file."""


class DataError(ModelspecError):
    """Training or evaluation data is missing, unreadable, or does not fit the spec; the message names the file and
    the array or column. ``array``: the spec's input or output the problem is about, when it is about one (so that
    `lint --data` can point at that place in the spec)."""

    array: Optional[str] = None


class SettingsError(ModelspecError, ValueError):
    """A setting outside the spec is unusable: the lint configuration, an unknown rule, an output path."""


class LintFailure(ModelspecError):
    """Lint findings stop a build: error-level ones, or warnings under ``strict``. ``diagnostics`` holds every
    finding of the spec (the failing ones and the others), in the order they are printed."""

    exit_code = EXIT_LINT

    def __init__(self, path: str, diagnostics: Iterable[Diagnostic], strict: bool, stopped: str = "build"):
        self.diagnostics = list(diagnostics)
        what = "lint errors" + (" or warnings (--strict)" if strict else "")
        super().__init__(f"{stopped} stopped by {what} in {path}")


class Interrupted(ModelspecError):
    """Training stopped on SIGINT or SIGTERM; the last complete epoch's checkpoint (if any) is intact. The exit code
    is the shell's for the signal: 130 for SIGINT (Ctrl-C), 143 for SIGTERM."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class BuildError(ModelspecError):
    """Keras could not build or save a model that passed every check (out of memory, a layer argument Keras
    refuses); the cause is chained."""


class WorkerLost(ModelspecError):
    """A worker of a multi-worker cluster stopped (crashed, killed, preempted) while the others trained; the last
    complete epoch's checkpoint is intact, and restarting every worker with --resume continues from it."""


class ExportError(ModelspecError):
    """An export could not be written: a module of the `export` extra is missing, or the converter refused a model
    that passed the readiness rules (the cause is chained)."""


class ExportMismatch(ModelspecError):
    """A written export disagrees with Keras beyond the format's tolerance on the verification batch; exit code 1, as
    a check that failed. Nothing is written then: the export is verified before it replaces the output."""

    exit_code = EXIT_LINT
