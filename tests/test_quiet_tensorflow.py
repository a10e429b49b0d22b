"""A build shows modelspec's output only: TensorFlow's start-up text stays out of the terminal, unless it fails.

The first test runs the real `modelspec build` (needs TensorFlow); the others put a stand-in `keras` package first on
the path that writes to descriptor 2 as TensorFlow's C++ core does, so they run without TensorFlow too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

# absl/glog lines ("I0000 00:00:1795440652.577703    6046 port.cc:153] ...") and the phrases of TensorFlow's start-up
START_UP = re.compile(
    r"^[IWEF]\d{4} |absl|oneDNN|cuda|cuInit|TF-TRT|TensorRT|cpu_feature_guard|rebuild TensorFlow",
    re.MULTILINE | re.IGNORECASE,
)

FAKE_KERAS = """
import os, sys
os.write(2, b"E0000 00:00:1.0  1 fake_loader.cc:1] C++ start-up line\\n")
if os.environ.get("FAKE_KERAS_FAILS"):
    raise ImportError("libtensorflow_framework.so.2: cannot open shared object file")
"""


def user_environment(**extra: str) -> dict:
    """The environment of a person's terminal: none of the TF_CPP_* settings the test run itself may carry."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP_")}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


@pytest.mark.tensorflow
def test_build_prints_modelspec_output_only(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelspec",
            "build",
            str(ROOT / "specs" / "mlp.yaml"),
            "-o",
            str(tmp_path / "mlp.keras"),
        ],
        cwd=tmp_path,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not START_UP.search(result.stderr), f"TensorFlow's start-up text reached stderr:\n{result.stderr}"
    assert "Total params: 235,146" in result.stdout
    assert (tmp_path / "mlp.keras").is_file()


def import_fake_keras(tmp_path: Path, *, command_line: bool = False, **extra: str) -> subprocess.CompletedProcess:
    """Import the stand-in keras as a library caller does, or (``command_line``) as the command line does."""
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "__init__.py").write_text(textwrap.dedent(FAKE_KERAS), encoding="utf-8")
    code = (
        "import sys, logging\nfrom modelspec.runtime import tensorflow_env\n"
        + ("tensorflow_env.keep_descriptor_2()\n" if command_line else "")
        + "print(tensorflow_env.import_keras().__name__)\nprint('stderr is back', file=sys.stderr)\n"
        "logging.getLogger('absl').warning('a Python warning')\n"
        "import os; os.write(2, b'W0000 00:00:2.0  1 late.cc:1] a C++ line after the start\\n')\n"
    )
    env = user_environment(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), **extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_start_up_text_is_dropped_and_stderr_restored(tmp_path):
    result = import_fake_keras(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "keras\n"
    # A library caller's descriptor 2 is its own again after the start: a later C++ line reaches it.
    assert (
        result.stderr == "stderr is back\na Python warning\nW0000 00:00:2.0  1 late.cc:1] a C++ line after the start\n"
    )


def test_the_command_line_keeps_later_cxx_lines_out_and_python_output_in(tmp_path):
    # What TensorFlow's C++ core writes after its start (a late absl line, a line at shutdown) never reaches the
    # terminal of a modelspec command; what Python writes to stderr (messages, logging, tracebacks) still does.
    result = import_fake_keras(tmp_path, command_line=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "keras\n"
    assert result.stderr == "stderr is back\na Python warning\n"


def test_start_up_text_is_shown_when_the_import_fails(tmp_path):
    result = import_fake_keras(tmp_path, FAKE_KERAS_FAILS="1")
    assert result.returncode == 1
    assert (
        "TensorFlow failed to start. Its output:\nE0000 00:00:1.0  1 fake_loader.cc:1] C++ start-up line\n"
        in result.stderr
    )
    assert result.stderr.rstrip().endswith("ImportError: libtensorflow_framework.so.2: cannot open shared object file")


def test_log_level_0_shows_the_start_up_text(tmp_path):
    result = import_fake_keras(tmp_path, TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "E0000 00:00:1.0  1 fake_loader.cc:1] C++ start-up line\nstderr is back\na Python warning\n"
        "W0000 00:00:2.0  1 late.cc:1] a C++ line after the start\n"
    )
