"""A file's name with a newline and an ESC never reaches the output raw (issue 21)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelspec.diagnostics import Diagnostic, Level
from modelspec.report.github import annotation
from modelspec.report.text import line

EVIL = "a\n::error file=x::forged\x1b[31m.yaml"
ROOT = Path(__file__).resolve().parent.parent


def _clean(text: str) -> None:
    assert "\x1b" not in text
    assert not any(row.startswith("::error file=x") for row in text.splitlines())


def test_reporters_keep_a_hostile_path_on_one_line():
    d = Diagnostic(EVIL, 5, 19, "MS001", "invalid-spec", Level.ERROR, "bad\x1b[2J", "fix\nit")
    for text in (d.format(), line(d)):
        _clean(text)
        assert len(text.splitlines()) == 2  # the record and its hint line
    coloured = line(d, color=True)  # its own styling is ESC; the name's and the message's are escaped
    assert "\x1b[31m.yaml" not in coloured and "\x1b[2J" not in coloured and len(coloured.splitlines()) == 2
    github = annotation(d)
    _clean(github)
    assert "\n" not in github and github.startswith("::error file=a%0A%3A%3Aerror")


def test_validate_prints_a_hostile_name_escaped(tmp_path):
    try:
        target = tmp_path / EVIL
        shutil.copy(ROOT / "specs" / "cnn.yaml", target)
    except OSError:
        pytest.skip("the file system refuses the name")
    out = subprocess.run([sys.executable, "-m", "modelspec", "validate", str(tmp_path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)  # fmt: skip
    _clean(out.stdout + out.stderr)
    assert "\\n::error file=x::forged\\x1b[31m.yaml: ok" in out.stdout
