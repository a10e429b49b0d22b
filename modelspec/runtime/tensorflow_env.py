"""Start TensorFlow's Keras without TensorFlow's start-up text in the terminal, unless the start fails.

TensorFlow's C++ core writes its start-up lines (absl's "All log messages before absl::InitializeLog() is called
are written to STDERR", oneDNN, "Could not find cuda drivers", CPU instructions, TF-TRT, a failed cuInit on a
machine without a GPU) straight to file descriptor 2, before Python's logging exists and whatever
`TF_CPP_MIN_LOG_LEVEL` says. So the import, and the device discovery that logs the cuInit line, run with descriptor 2
pointing at a temporary file: on success the text is dropped; on failure it is written to stderr before the error
propagates, so a broken installation still explains itself.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
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
        _restore(saved, handler_was_enabled)
    return result


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
