"""The TensorFlow-free tests on the oldest and the newest supported Python, with the lint-only package.

`pip install modelspec` brings no TensorFlow, and `modelspec lint` must work there on every supported Python. These
sessions install `.[test]` (the package and the test tools, no [tf] extra) into a fresh environment per Python and
run every test not marked `tensorflow` (tests/conftest.py); tests/test_environment.py fails if TensorFlow is there.

Like `make test`, they install the versions of constraints.txt (those the suite last passed with), so that a run is
reproducible. `make test` runs them after the full suite; alone: `.venv/bin/nox`, or
`.venv/bin/nox -s "without_tensorflow-3.10"`.

`newest` is run on demand only (`.venv/bin/nox -s newest`; `make test` and CI stay reproducible): the whole suite,
TensorFlow included, on the newest release of every dependency, after a list of the packages that differ from
constraints.txt. When a new release breaks something, this session fails and names it, instead of a fresh clone.
"""

from __future__ import annotations

import nox

nox.options.envdir = ".venv/nox"  # beside the project's own environment: ignored by git, removed by `make clean`
nox.options.reuse_venv = "yes"  # keep the environments between runs; the package is reinstalled every time
nox.options.error_on_missing_interpreters = True  # a missing Python fails the run, never skips its session

PYTHONS = ["3.10", "3.13"]  # requires-python's oldest and the newest release
CONSTRAINTS = ("-c", "constraints.txt")


@nox.session(python=PYTHONS)
def without_tensorflow(session: nox.Session) -> None:
    """Install the lint-only package with the test tools and run the tests that need no TensorFlow."""
    session.install(*CONSTRAINTS, ".[test]")
    session.run(
        "python",
        "-m",
        "pytest",
        "-m",
        "not tensorflow",
        *session.posargs,
        env={"MODELSPEC_TESTS_WITHOUT_TENSORFLOW": "1"},
    )


@nox.session(default=False)
def newest(session: nox.Session) -> None:
    """The whole suite on the newest releases (no constraints): what a fresh install gets once they move on."""
    session.install("--upgrade", "--upgrade-strategy", "eager", ".[tf,test]", "packaging")
    session.run("python", "tools/constraints.py", "--compare")
    session.run("python", "-m", "pytest", *session.posargs)
