"""The `modelspec` command line: one small module per command (the group is modelspec/cli/commands.py).

``main`` is the console script's entry point. It imports the commands itself, so that a Ctrl-C at any moment,
start-up included, ends the program with exit code 130 and one line, never a traceback.
"""

from __future__ import annotations

import sys
from importlib import import_module

EXIT_INTERRUPTED = 130  # the shell's code for SIGINT (128 + 2)


def main() -> None:
    """Entry point of the `modelspec` console script."""
    try:
        import_module("modelspec.cli.commands").cli(prog_name="modelspec")
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


def __getattr__(name: str):
    # `from modelspec.cli import cli` (the click group, for tests and embedding) loads the commands on first use.
    if name in ("cli", "DEFAULT_MAX_PARAMS"):
        return getattr(import_module("modelspec.cli.commands"), name)
    raise AttributeError(f"module 'modelspec.cli' has no attribute {name!r}")


__all__ = ["EXIT_INTERRUPTED", "cli", "main"]
