"""Each run has the TensorFlow it claims: the full suite (`make test`) has it, the nox sessions (noxfile.py,
MODELSPEC_TESTS_WITHOUT_TENSORFLOW=1) must not, so neither can pass while testing the wrong installation."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import WITHOUT_TENSORFLOW, WITHOUT_TENSORFLOW_VARIABLE


@pytest.mark.parametrize("name", ["tensorflow", "keras"])
def test_tensorflow_is_installed_exactly_when_the_run_expects_it(name):
    found = importlib.util.find_spec(name) is not None
    if WITHOUT_TENSORFLOW:
        assert not found, f"{WITHOUT_TENSORFLOW_VARIABLE}=1, yet {name} is importable: this run must go without it"
    else:
        assert found, (
            f"{name} is not installed: the full suite needs the [tf] extra (`make test` installs it); a "
            f"TensorFlow-free run sets {WITHOUT_TENSORFLOW_VARIABLE}=1 and -m 'not tensorflow' (noxfile.py)"
        )
