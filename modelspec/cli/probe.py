"""`modelspec probe`: per-layer activation and gradient scales at initialisation, measured beside predicted."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.cli.common import (
    DATA_HELP,
    RESULT_FORMATS,
    epilog,
    format_option,
    max_params_option,
    print_diagnostics,
    print_table,
    print_wrote,
    seed_option,
    set_option,
)
from modelspec.errors import EXIT_INVALID, EXIT_OK
from modelspec.probing import run_probe
from modelspec.report.json_report import json_text
from modelspec.report.probe import activation_table, flag_lines, gradient_table, notes
from modelspec.requests import Data, Options, Outputs, ProbeRequest
from modelspec.resolve import resolve_probe

FLAGS_HELP = (
    "Flags: vanishing/exploding activations (a weighted layer's RMS below 1/100 or above 100 times the input's), "
    "dead (half the units of a ReLU layer zero for every example), saturated (half the outputs of a sigmoid/tanh "
    "layer within 1% of its bounds), vanishing/exploding gradient (a kernel's gradient/weight RMS ratio below 1/100 "
    "or above 100 times the last layer's: it learns that much slower or faster), no gradient, not finite."
)

EXIT_HELP = epilog(
    EXIT_OK,
    EXIT_INVALID,
    note="Lint findings never stop a probe; a --set that is malformed, names a layer the spec lacks or makes the spec "
    "invalid exits 2.",
)


@click.command(epilog=FLAGS_HELP + "\n\n" + EXIT_HELP)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--data", metavar="DATA", help="Probe with the first batch of DATA: " + DATA_HELP)
@click.option("--target", metavar="COLUMN", help="The CSV column holding the labels.")
@click.option("--batch", type=click.IntRange(min=1), help="Examples in the batch [default: the spec's batch size].")
@seed_option("Override the spec's seed (weights, random batch).")
@click.option("--weights", type=click.Path(dir_okay=False), help="Pretrained weights, replacing `pretrained.path`.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write measured and predicted scales to this PNG.")
@format_option(RESULT_FORMATS)
@max_params_option
@set_option
def probe(spec, data, target, batch, seed, weights, plot, output_format, max_params, overrides) -> None:
    """Build SPEC (seeded), run one training-mode batch and report every layer at initialisation.

    Per layer: the activation mean and RMS, the share of dead ReLU units and of saturated sigmoid/tanh outputs; per
    weight: the gradient RMS and its ratio to the weight's RMS; each beside the static prediction (docs/signal.md).
    Without --data the batch is standard-normal inputs and random labels that fit the loss. Lint findings are
    printed but do not stop the probe: a bad initialisation is what it is for.

    \b
    Example:
      modelspec probe specs/digits_mlp.yaml --plot probe.png
      modelspec probe specs/digits_mlp.yaml --set kernel_initializer=zeros
    """
    options = Options(batch_size=batch, seed=seed, weights=weights, max_params=max_params, overrides=overrides)
    chosen = Data(data, target=target) if data is not None else None
    report = run_probe(resolve_probe(ProbeRequest(Path(spec), chosen, options, Outputs(plot=plot))))
    if output_format == "json":
        click.echo(json_text(report.to_dict()), nl=False)
        return
    print_diagnostics(report.findings)
    print_table(activation_table(report))
    if report.loss is not None:
        print_table(gradient_table(report))
    for line in [*flag_lines(report), *notes(report)]:
        click.echo(line)
    if plot is not None:
        print_wrote(plot)
