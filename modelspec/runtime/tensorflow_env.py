"""Start TensorFlow's Keras without TensorFlow's start-up text in the terminal, unless the start fails.

TensorFlow's C++ core writes its start-up lines (absl's "All log messages before absl::InitializeLog() is called
are written to STDERR", oneDNN, "Could not find cuda drivers", CPU instructions, TF-TRT, a failed cuInit on a
machine without a GPU) straight to file descriptor 2, before Python's logging exists and whatever
`TF_CPP_MIN_LOG_LEVEL` says. So the import, and the device discovery that logs the cuInit line, run with descriptor 2
pointing at a temporary file: on success the text is dropped; on failure it is written to stderr before the error
propagates, so a broken installation still explains itself.

TensorFlow's C++ side also writes to descriptor 2 after its start: absl's "All log messages before
absl::InitializeLog()" line comes again with the first line of each of its absl copies, whenever that is (a line at
shutdown, or from a thread that logs late on a loaded machine). The command line owns its process, so it asks for
more (``keep_descriptor_2()``): once TensorFlow has started, descriptor 2 stays on /dev/null and Python's
``sys.stderr`` (and the logging handlers that held it) write to a copy of the real one, so that modelspec's messages,
Python's tracebacks and the fault handler's crash report still reach the terminal. A library caller's descriptor 2
is left alone.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import logging
import os
import sys
import tempfile
from types import ModuleType

# After start-up, TensorFlow's C++ log lines are noise for a person building or training a model: INFO and WARNING
# ("Local rendezvous is aborting ... End of sequence" per epoch of a fit), and even ERROR ("NodeDef mentions attribute
# use_unbounded_threadpool which is not in the op definition", logged by tf.data when Keras and TensorFlow versions
# differ slightly, as TensorFlow 2.21 and Keras 3.15 do). Real failures still raise Python exceptions with their
# message. A value the user set wins (TF_CPP_MIN_LOG_LEVEL=0 shows everything).
LOG_LEVEL = "3"

_keep_descriptor_2 = False  # set by the command line: after the start, descriptor 2 is no longer the terminal's


def keep_descriptor_2() -> None:
    """Keep TensorFlow's C++ output away from the terminal for the whole process, not only during its start.

    For a program that owns its process (the command line); `TF_CPP_MIN_LOG_LEVEL=0` still shows everything.
    """
    global _keep_descriptor_2
    _keep_descriptor_2 = True


def import_keras() -> ModuleType:
    """Import Keras (on TensorFlow) once, without TensorFlow's start-up text, and return the module.

    `TF_CPP_MIN_LOG_LEVEL=0` in the environment shows the start-up text as TensorFlow writes it.

    Raises:
        ImportError (or whatever the import raises), after writing TensorFlow's start-up text to stderr.
    """
    keras = sys.modules.get("keras")
    if keras is not None:
        return keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", LOG_LEVEL)
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        return _start()
    return _with_stderr_captured(_start)


def import_tensorflow() -> ModuleType:
    """Import TensorFlow as ``import_keras`` does (Keras first, without the start-up text); return ``tensorflow``."""
    import_keras()
    import tensorflow as tf

    return tf


def _start() -> ModuleType:
    keras = importlib.import_module("keras")
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:  # discovering the devices logs too, and would otherwise do so at the first operation
        tensorflow.config.list_physical_devices()
    return keras


def _with_stderr_captured(start):
    """Return ``start()``, run with descriptor 2 redirected; show what it wrote there only if it raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no stderr, or no descriptor 2: nothing to keep clean
        return start()
    # A crash in TensorFlow's loader (an abort on a CPU it was not built for) ends the process before the text could
    # be shown: the fault handler then still says, on the real stderr, that and where the process died.
    handler_was_enabled = faulthandler.is_enabled()
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        if not handler_was_enabled:
            faulthandler.enable(file=saved)
        try:
            result = start()
        except BaseException as error:
            _restore(saved, handler_was_enabled)
            if isinstance(error, Exception):  # not after Ctrl-C, which says nothing about the installation
                _show(captured)
            raise
        if _keep_descriptor_2:
            _python_keeps_stderr(saved)
        else:
            _restore(saved, handler_was_enabled)
    return result


def _python_keeps_stderr(saved: int) -> None:
    """Point descriptor 2 at /dev/null for good, and Python's stderr at ``saved`` (the real stderr)."""
    old = sys.stderr
    with contextlib.suppress(AttributeError, OSError, ValueError):
        old.flush()
    stream = open(  # noqa: SIM115  (the process's stderr from now on, open until it ends)
        saved,
        "w",
        buffering=1,  # line-buffered, as stderr is
        encoding=getattr(old, "encoding", None) or "utf-8",
        errors=getattr(old, "errors", None) or "backslashreplace",
    )
    sys.stderr = stream
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for handler in {handler for logger in loggers for handler in getattr(logger, "handlers", ())}:
        if isinstance(handler, logging.StreamHandler) and handler.stream is old:
            handler.setStream(stream)  # absl's Python handler, made during the import, wrote to the old one
    faulthandler.enable(file=stream)  # on: with descriptor 2 gone, a crash would otherwise say nothing at all
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)


def _show(captured) -> None:
    captured.seek(0)
    text = captured.read().decode("utf-8", "replace")
    if text:
        sys.stderr.write("TensorFlow failed to start. Its output:\n" + text + ("" if text.endswith("\n") else "\n"))
        sys.stderr.flush()


def _restore(saved: int, handler_was_enabled: bool) -> None:
    """Point descriptor 2 back at the real stderr and leave the fault handler as it was."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    if not handler_was_enabled:
        faulthandler.disable()
    os.dup2(saved, 2)
    os.close(saved)
