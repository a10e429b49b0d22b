"""`modelspec compare`: the same spec trained once per variant, one table and one plot of loss curves."""

from __future__ import annotations

from pathlib import Path

import click

from modelspec.cli.common import (
    RESULT_FORMATS,
    check_validation,
    distribute_option,
    epilog,
    format_option,
    max_params_option,
    print_table,
    print_wrote,
    score_text,
    seed_option,
    set_option,
    training_data_options,
)
from modelspec.comparison import Comparison, results_json, train_each, write_results
from modelspec.errors import EXIT_INVALID, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from modelspec.report.compare import compare_table
from modelspec.requests import CompareRequest, Data, Options, Outputs
from modelspec.resolve import resolve_compare

VARY_HELP = (
    "Train one variant per value. FIELD is a `defaults:` field (kernel_initializer: every layer "
    "that does not set its own), layers.NAME.FIELD (one layer, by name or position), or a dotted path "
    "(training.optimizer.learning_rate). Values are YAML: zeros,he_normal or "
    "'{type: random_normal, stddev: 1.0},glorot_uniform' (quote the option for the shell). Repeat the option for "
    "every combination."
)

EXIT_HELP = epilog(
    EXIT_OK,
    EXIT_INVALID,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    note="Lint findings never stop a comparison; an invalid variant, or a --set that is malformed, names a layer the "
    "spec lacks, makes the spec invalid or sets a field --vary varies, exits 2.",
)


@click.command(epilog=EXIT_HELP)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--vary", "vary", multiple=True, required=True, metavar="FIELD=V1,V2,...", help=VARY_HELP)
@training_data_options
@click.option("--epochs", type=click.IntRange(min=1), help="Override the spec's epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the spec's batch size.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Runs per variant.")
@seed_option("The first seed [default: the spec's]; runs use seed, seed+1...")
@click.option(
    "--reach",
    metavar="QUANTITY=VALUE",
    help="Report the first epoch where QUANTITY reaches VALUE (≥ for accuracies, ≤ for losses): val_accuracy=0.9.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="The results as JSON [default: <spec name>.compare.json]."
)
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the overlaid loss curves to this PNG.")
@max_params_option
@click.option("--quiet", is_flag=True, help="Print only the table.")
@distribute_option("Train each variant")
@format_option(RESULT_FORMATS, help="text: progress and a table; json: the results document on standard output.")
@set_option
def compare(spec, vary, data, validation_data, validation_split, target, epochs, batch_size, seeds, seed, reach,
            output, plot, max_params, quiet, distribute, output_format, overrides) -> None:  # fmt: skip
    """Train SPEC once per variant that --vary describes, from the same seeds and data order, and compare them.

    Every variant is validated, linted and checked against the data before anything trains; an invalid variant
    (an unknown initializer) stops here with exit code 2. Lint findings are reported per variant, not a gate:
    training the bad variants is the point. Prints a table (final and best loss and metrics, epochs to --reach,
    seconds per epoch), writes the results as JSON and, with --plot, the loss curves (mean and range over --seeds).
    With --format json, the results JSON goes to standard output instead of the table (and to -o's file).
    --set changes the spec every variant starts from (a field --vary varies is refused).

    \b
    Example:
      modelspec compare specs/digits_mlp.yaml --data digits --epochs 5 \\
          --vary 'kernel_initializer=zeros,{type: random_normal, stddev: 1.0},auto' \\
          --reach val_accuracy=0.9 --plot curves.png
    """
    check_validation(validation_data, validation_split)
    options = Options(
        epochs=epochs, batch_size=batch_size, seed=seed, distribute=distribute, max_params=max_params,
        overrides=overrides,
    )  # fmt: skip
    request = CompareRequest(
        Path(spec), Data(data, validation_data, validation_split, target), tuple(vary), options,
        Outputs(results=output, plot=plot, named=True), seeds=seeds, reach=reach,
    )  # fmt: skip
    resolved = resolve_compare(request)
    talk = not quiet and output_format == "text"  # JSON on standard output: nothing else goes there
    if talk:
        for variant in resolved.variants:
            found = "; ".join(f"{d.level}[{d.code}] {d.layer}: {d.message}" for d in variant.findings)
            click.echo(f"{variant.label}: {found or 'no lint findings'}")
    comparison = Comparison.of(resolved)
    for variant, run, number, total in train_each(resolved, comparison):
        if talk and run.rows:
            scores = score_text(run.rows[-1])
            click.echo(f"[{number}/{total}] {variant.label}, seed {run.seed}: {scores} ({run.seconds:.1f} s)")
    write_results(resolved, comparison)
    if output_format == "json":
        click.echo(results_json(comparison), nl=False)
        return
    print_table(compare_table(comparison))
    print_wrote(*resolved.outputs.files)
