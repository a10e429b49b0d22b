"""The layers of the house: nothing below the pipeline, and not the resolver, imports runtime/ — neither in its
source (a scan of the import statements, lazy ones included) nor when it is loaded (what importing it brings in).
Runs without TensorFlow too: the lint-only install must hold the same line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "modelspec"
BELOW = [
    "source.py",
    "blocks.py",
    "composition.py",
    "schema",
    "analysis",
    "linter",
    "fixing",
    "report",
    "data",
    "pretrained",
    "loader.py",
    "errors.py",
]
PURE = [
    *BELOW,
    "drawing",
    "requests.py",
    "resolve.py",
    "cluster.py",
    "checkpoint_state.py",
    "history.py",
    "atomic.py",
    "tuning/space.py",
    "tuning/plan.py",
]  # tune's search space and plan: pure; its trials run runtime/


def _runtime_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + ([f"{module}.{alias.name}" for alias in node.names] if module == "modelspec" else [])
        found += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names if n.startswith("modelspec.runtime")]
    return found


def test_nothing_below_the_pipeline_nor_the_resolver_imports_runtime():
    paths = [p for name in PURE for p in ([PACKAGE / name] if name.endswith(".py") else (PACKAGE / name).rglob("*.py"))]
    assert len(paths) > 30
    assert [hit for path in paths for hit in _runtime_imports(path)] == []
    # The scan sees such imports (lazy ones included) where they are: a scan that finds nothing would pass vacuously.
    assert _runtime_imports(PACKAGE / "trainer.py")


def test_loading_the_resolver_and_the_pure_floors_loads_nothing_of_runtime():
    """Not even through a module in between: the pipeline's pure half (prepare) is what the resolver uses, and its
    build() and save() reach the Keras builder only when they are called."""
    modules = [
        "modelspec.resolve",
        "modelspec.requests",
        "modelspec.pipeline",
        "modelspec.linter.runner",
        "modelspec.fixing",
        "modelspec.report.plots",
        "modelspec.variants",
        "modelspec.drawing",
    ]
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in modules)
        + "print(sorted(m for m in sys.modules if m.startswith('modelspec.runtime') or m.split('.')[0] in "
        "('tensorflow', 'keras', 'numpy', 'h5py', 'matplotlib')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
    # The check can see what it looks for: the runner of a training run does load runtime/.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, modelspec.trainer; print('modelspec.runtime.train' in sys.modules)"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert loaded.stdout.strip() == "True"
