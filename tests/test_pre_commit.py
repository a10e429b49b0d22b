"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the real pre-commit client in a throwaway repository.

The hook repository is a git repository made in a temporary folder from this checkout's working tree (the files
pip needs to install modelspec: pyproject.toml, README.md, the hooks file and the package), committed, so that
uncommitted work is what gets tested and a fresh clone of main works the same. pre-commit then builds the hooks'
virtualenv with pip, as it would for a user (PRE_COMMIT_HOME in the temporary folder: nothing of the user's cache
is read or written), installs its git hook in a second repository, and `git commit` runs it.

Building the hook environment is most of the time: one environment, made once for the module, serves both tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

import modelspec

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
pytest.importorskip("pre_commit")  # constraints.txt pins it for Python 3.11+ only

# What pip needs to install modelspec from the hook repository (package data included).
INSTALL_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml")
INSTALL_FOLDERS = ("modelspec/",)

# A spec with a finding that has a safe fix (MS102: He before tanh), one with an unsafe fix only (MS203: softmax on a
# hidden layer), and comments of every kind the fix must keep.
SPEC = """\
# yaml-language-server: $schema=../modelspec.schema.json
modelspec: 1
name: hooked   # a spec in a repository that uses the hook
seed: 1

input: {shape: [32]}  # 32 features

layers:
  # the hidden layers
  - {type: dense, units: 64, activation: tanh, kernel_initializer: he_normal}  # He before tanh
  - type: dense
    units: 32
    activation: softmax   # a hidden softmax

  - {type: activation, activation: relu}   # an activation layer
  - {type: dense, units: 10, activation: softmax}
"""
# A YAML file that is not a spec: --specs-only leaves it alone.
OTHER = "# not a spec\nsteps: [build, test]\nkernel_initializer: he_normal\n"


def git(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=True)


def working_tree_files() -> list[str]:
    """The checkout's files that installing modelspec needs: tracked or untracked-but-not-ignored, and present."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split("\0")
    return [
        name
        for name in listed
        if (name in INSTALL_FILES or name.startswith(INSTALL_FOLDERS) or name.startswith("LICENSE"))
        and (ROOT / name).is_file()
    ]


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict:
    """Environment variables for git and pre-commit: an isolated PRE_COMMIT_HOME, no global git configuration."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home / "cache"),
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("PYTHONPATH", None)  # the hook runs the modelspec pip installed into its own environment
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, environment) -> tuple[Path, str]:
    """A git repository holding this working tree's modelspec, committed; returns (path, commit)."""
    if not (ROOT / ".git").exists():
        pytest.skip("the project is not a git checkout")
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in working_tree_files():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, target)
    git("init", "--quiet", cwd=repo, env=environment)
    git("add", "--all", cwd=repo, env=environment)
    git("commit", "--quiet", "--no-verify", "-m", "modelspec under test", cwd=repo, env=environment)
    return repo, git("rev-parse", "HEAD", cwd=repo, env=environment).stdout.strip()


def user_repo(folder: Path, hook_repo: tuple[Path, str], hooks: list[str], env: dict) -> Path:
    """A repository whose .pre-commit-config.yaml uses ``hooks`` of the hook repository, with pre-commit installed."""
    path, rev = hook_repo
    folder.mkdir()
    git("init", "--quiet", cwd=folder, env=env)
    config = {"repos": [{"repo": str(path), "rev": rev, "hooks": [{"id": hook} for hook in hooks]}]}
    (folder / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git("add", ".pre-commit-config.yaml", cwd=folder, env=env)
    git("commit", "--quiet", "--no-verify", "-m", "config", cwd=folder, env=env)
    pre_commit("install", cwd=folder, env=env)
    return folder


def pre_commit(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def commit(repo: Path, env: dict) -> subprocess.CompletedProcess:
    """`git commit` of what is staged, through the installed pre-commit hook; returns the finished process."""
    return subprocess.run(
        ["git", "commit", "-m", "specs"], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_hooks_file_declares_both_hooks():
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))}
    assert set(hooks) == {"modelspec-lint", "modelspec-fix"}
    assert hooks["modelspec-fix"]["entry"] == "modelspec lint --specs-only --fix"  # safe fixes only
    assert "--unsafe-fixes" not in hooks["modelspec-fix"]["entry"]
    assert all(hook["language"] == "python" and hook["types"] == ["yaml"] for hook in hooks.values())


def test_modelspec_fix_hook_fixes_staged_specs_with_the_real_client(tmp_path, hook_repo, environment):
    repo = user_repo(tmp_path / "user", hook_repo, ["modelspec-fix", "modelspec-lint"], environment)
    (repo / "specs").mkdir()
    (repo / "specs" / "model.yaml").write_text(SPEC, encoding="utf-8")
    (repo / "ci.yaml").write_text(OTHER, encoding="utf-8")
    git("add", "specs/model.yaml", "ci.yaml", cwd=repo, env=environment)

    first = commit(repo, environment)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output  # the fix hook changed a file: pre-commit fails the commit
    assert "files were modified by this hook" in output, output
    assert "modelspec fix" in output and "modelspec lint" in output

    fixed = (repo / "specs" / "model.yaml").read_text(encoding="utf-8")
    # The hook wrote what the API's safe fixes give, and only those: the unsafe fix (MS203) is left for a person.
    safe = modelspec.fix(SPEC, path="specs/model.yaml")
    assert fixed == safe.text != SPEC
    assert {fix.code for fix in safe.applied} == {"MS102"}
    assert "MS203" in {d.code for d in safe.remaining}
    assert modelspec.fix(SPEC, path="specs/model.yaml", unsafe=True).text != fixed
    # Only the line of the fixed initializer changed; every comment and blank line stayed.
    changed = [(old, new) for old, new in zip(SPEC.splitlines(), fixed.splitlines()) if old != new]
    assert len(SPEC.splitlines()) == len(fixed.splitlines())
    assert [old for old, _ in changed] == [line for line in SPEC.splitlines() if "he_normal" in line]
    assert "he_normal" not in fixed and changed[0][1].endswith("}  # He before tanh")
    assert (repo / "ci.yaml").read_text(encoding="utf-8") == OTHER  # --specs-only: not a spec, not touched

    git("add", "specs/model.yaml", cwd=repo, env=environment)
    second = commit(repo, environment)
    assert second.returncode == 0, second.stdout + second.stderr  # nothing left to fix; lint passes (warnings)
    assert (repo / "specs" / "model.yaml").read_text(encoding="utf-8") == fixed
    log = git("log", "--format=%s", cwd=repo, env=environment).stdout.split()
    assert log[0] == "specs"


def test_modelspec_lint_hook_blocks_a_commit_with_an_error_with_the_real_client(tmp_path, hook_repo, environment):
    repo = user_repo(tmp_path / "user", hook_repo, ["modelspec-lint"], environment)
    broken = SPEC.replace("kernel_initializer: he_normal", "kernel_initializer: zeros")  # MS101, an error
    (repo / "model.yaml").write_text(broken, encoding="utf-8")
    (repo / "ci.yaml").write_text(OTHER, encoding="utf-8")
    git("add", "model.yaml", "ci.yaml", cwd=repo, env=environment)

    refused = commit(repo, environment)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    assert "model.yaml:10:" in output and "error[MS101]" in output, output
    assert "ci.yaml" not in output
    assert (repo / "model.yaml").read_text(encoding="utf-8") == broken  # lint never writes

    (repo / "model.yaml").write_text(SPEC, encoding="utf-8")  # warnings only: the commit goes through
    git("add", "model.yaml", cwd=repo, env=environment)
    accepted = commit(repo, environment)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
