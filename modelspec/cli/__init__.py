"""The `modelspec` command line: one small module per command (the group is modelspec/cli/commands.py).

``main`` is the console script's entry point. It imports the commands itself, so that a Ctrl-C at any moment,
start-up included, ends the program with exit code 130 and one line, never a traceback.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

from modelspec.runtime.tensorflow_env import keep_descriptor_2

EXIT_INTERRUPTED = 130  # the shell's code for SIGINT (128 + 2)


def main() -> None:
    """Entry point of the `modelspec` console script (and of `python -m modelspec`)."""
    keep_descriptor_2()  # this process is the command's: TensorFlow's C++ lines never reach its terminal
    try:
        import_module("modelspec.cli.commands").cli(prog_name="modelspec")
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        _exit_interrupted()
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:
            _exit_interrupted()
        raise


def _exit_interrupted() -> None:
    """Exit with 130, past the interpreter's shutdown: a KeyboardInterrupt that met code run by ``exec`` of a string
    (dataclasses and typing do that while modules load) makes CPython 3.11 end the process by SIGINT after its
    shutdown, whatever exit code the program chose; the program's own files are closed by then."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(EXIT_INTERRUPTED)


def __getattr__(name: str):
    # `from modelspec.cli import cli` (the click group, for tests and embedding) loads the commands on first use.
    if name in ("cli", "DEFAULT_MAX_PARAMS"):
        return getattr(import_module("modelspec.cli.commands"), name)
    raise AttributeError(f"module 'modelspec.cli' has no attribute {name!r}")


__all__ = ["EXIT_INTERRUPTED", "cli", "main"]
