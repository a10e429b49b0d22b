"""The `modelspec` command line: one small module per command (the group is modelspec/cli/commands.py).

``main`` is the console script's entry point. It imports the commands itself, so that a Ctrl-C at any moment,
start-up included, ends the program with exit code 130 and one line, never a traceback. A SIGTERM (what a CI
timeout or ``kill`` sends) unwinds the program the same way, so that every ``finally`` runs and temporary files are
removed, then ends it with 143; training traps both signals itself while it runs (modelspec/runtime/callbacks.py)
and restores this handler after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from importlib import import_module

from modelspec.errors import EXIT_SIGTERM
from modelspec.runtime.tensorflow_env import keep_descriptor_2

EXIT_INTERRUPTED = 130  # the shell's code for SIGINT (128 + 2)


class Terminated(BaseException):
    """SIGTERM arrived outside training. A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception``
    stops it on its way out, and every ``finally`` and context manager on the way runs."""


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM does not interrupt the cleaning up
    raise Terminated()


def main() -> None:
    """Entry point of the `modelspec` console script (and of `python -m modelspec`)."""
    keep_descriptor_2()  # this process is the command's: TensorFlow's C++ lines never reach its terminal
    with contextlib.suppress(ValueError):  # not the main thread (embedded): the default behaviour stays
        signal.signal(signal.SIGTERM, _terminate)
    try:
        import_module("modelspec.cli.commands").cli(prog_name="modelspec")
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        _exit_now(EXIT_INTERRUPTED)
    except Terminated:
        print("error: stopped by SIGTERM", file=sys.stderr)
        _exit_now(EXIT_SIGTERM)
    except SystemExit as exc:
        if exc.code in (EXIT_INTERRUPTED, EXIT_SIGTERM):
            _exit_now(exc.code)
        raise


def _exit_now(code: int) -> None:
    """Exit with ``code``, past the interpreter's shutdown: a KeyboardInterrupt that met code run by ``exec`` of a
    string (dataclasses and typing do that while modules load) makes CPython 3.11 end the process by SIGINT after its
    shutdown, whatever exit code the program chose; the program's own files are closed, and its temporary files
    removed, by then. A second SIGTERM during that last moment changes nothing."""
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)


def __getattr__(name: str):
    # `from modelspec.cli import cli` (the click group, for tests and embedding) loads the commands on first use.
    if name == "cli":
        return import_module("modelspec.cli.commands").cli
    if name == "DEFAULT_MAX_PARAMS":
        return import_module("modelspec.pipeline").DEFAULT_MAX_PARAMS
    raise AttributeError(f"module 'modelspec.cli' has no attribute {name!r}")


__all__ = ["EXIT_INTERRUPTED", "Terminated", "cli", "main"]
