"""`modelspec graph`: draw a spec's architecture as SVG, HTML or PNG. Never imports TensorFlow."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelspec.cli.common import epilog, print_wrote, set_option
from modelspec.drawing import FOLD_ABOVE, FORMATS, graph
from modelspec.errors import EXIT_INVALID, EXIT_OK
from modelspec.linter.config import load_config


@click.command(
    "graph",
    epilog=epilog(
        EXIT_OK,
        EXIT_INVALID,
        note="graph exits 2 on an invalid spec, a --set that is malformed, names nothing or makes the spec "
        "invalid, an output it cannot write, or without the [graph] extra "
        '(pip install "modelspec[graph]"). What the marks mean and how layers are grouped: docs/graph.md.',
    ),
)
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Where to write the picture (atomically): FILE.svg, FILE.html (folds on a click, findings on hover) or "
    "FILE.png; '-' prints the SVG [default: <spec name>.svg in the current folder].",
)
@click.option(
    "--fold/--unfold",
    default=None,
    help=f"Draw every group of layers folded into one box, or open [default: folded above {FOLD_ABOVE} layers]. "
    "In SVG and HTML a click on a group folds or unfolds it.",
)
@set_option
def graph_command(spec: Path, output, fold, overrides) -> None:
    """Draw the architecture of SPEC: one box per layer (name, type, output shape, parameters, activation,
    initializer), the edges, lint findings on their layers and the predicted signal scale, from the spec alone
    (no TensorFlow, no Graphviz).

    \b
    Example:
      modelspec graph specs/mlp.yaml -o mlp.html \\
          --set layers.hidden1.units=512 --set kernel_initializer=zeros
    """
    config = load_config()
    if output == "-":
        sys.stdout.write(graph(spec, fold=fold, config=config, overrides=overrides))
        return
    path = Path(output) if output is not None else Path(spec.stem + FORMATS[0])
    graph(spec, path, fold=fold, config=config, overrides=overrides)
    print_wrote(path)
