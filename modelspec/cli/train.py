"""`modelspec train` and `modelspec evaluate`: the spec's training block runs on real data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelspec.cli.common import (
    DATA_HELP,
    check_validation,
    distribute_option,
    epilog,
    format_option,
    max_params_option,
    print_diagnostics,
    print_table,
    training_data_options,
)
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED, with_strategy

EXIT_HELP = epilog(
    EXIT_OK,
    EXIT_LINT,
    EXIT_INVALID,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    note="Interrupted, it leaves the last complete epoch's checkpoint intact.",
)


@click.command(epilog=EXIT_HELP)
@click.argument("spec", type=click.Path(dir_okay=False))
@training_data_options
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="The trained .keras file [default: <spec name>.keras]."
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the spec's epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the spec's batch size.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Override the spec's seed (weights and data order).")
@click.option("--weights", type=click.Path(dir_okay=False), help="Pretrained weights, replacing `pretrained.path`.")
@click.option(
    "--history",
    type=click.Path(dir_okay=False),
    help="Where the history goes, as FILE.json and FILE.csv [default: <output>.history.json and .csv].",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the loss and metric curves to this PNG.")
@click.option(
    "--checkpoints",
    type=click.Path(file_okay=False),
    help="Keep the last complete epoch and the best one in this folder (last.npz, best.npz).",
)
@click.option("--resume", is_flag=True, help="Continue the run saved in --checkpoints (optimizer state included).")
@click.option("--quiet", is_flag=True, help="One line per epoch, no progress bar.")
@distribute_option("Train")
@max_params_option
@click.option("--strict", is_flag=True, help="Stop on lint warnings too, not only on lint errors.")
def train(spec, data, validation_data, validation_split, target, output, epochs, batch_size, seed, weights, history,
          plot, checkpoints, resume, quiet, distribute, max_params, strict) -> None:  # fmt: skip
    """Train SPEC on DATA with its `training:` block, then write the model, its history and (with --plot) curves.

    Everything is checked before TensorFlow starts: the spec (lint gate, parameter budget, pretrained weights) and
    the data against the spec. With a seed, two runs give the same weights. With `training.distribute` or
    --distribute, `batch_size` is the global batch, split across the replicas; on a cluster only the chief writes.
    """
    from modelspec.report.history import history_paths
    from modelspec.trainer import train as run

    check_validation(validation_data, validation_split)
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise click.BadParameter("the plot's file name must end in .png", param_hint="'--plot'")
    output = Path(output or f"{_spec_name(spec)}.keras")
    history = Path(history or output.with_name(output.stem + ".history"))

    this = {}  # this process's part in the run (runtime.distribute.Role), known once the spec is read

    def ready(prepared, train_set, validation_set):
        from modelspec.runtime.distribute import role

        setting = with_strategy(prepared.model.spec.training.distribute, distribute)
        this["role"] = role(setting)
        print_diagnostics(prepared.findings)
        if prepared.plan is not None:
            from modelspec.report.plan import plan_table

            print_table(plan_table(prepared.plan))
        held = f", validating on {validation_set.size:,}" if validation_set is not None else ""
        where = _strategy_text(setting, this["role"])
        click.echo(f"Training {prepared.model.name} on {train_set.source}: {train_set.size:,} examples{held}{where}")

    trained = run(
        Path(spec),
        data,
        validation_data=validation_data,
        validation_split=validation_split,
        target=target,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        weights=weights,
        checkpoints=checkpoints,
        resume=resume,
        output=output,
        history=history,
        plot=plot,
        max_params=max_params,
        strict=strict,
        show_progress=True,
        quiet=quiet,
        on_ready=ready,
        distribute=distribute,
    )
    if trained.history.rows:
        last = trained.history.rows[-1]
        scores = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("epoch", "learning_rate", "seconds"))
        click.echo(f"Trained {int(last['epoch'])} epochs: {scores}")
    written = ", ".join(str(path) for path in [output, *history_paths(history), *([plot] if plot is not None else [])])
    if this["role"].chief:
        click.echo(f"Wrote {written}")
    else:
        click.echo(f"Worker {this['role'].worker} wrote nothing: the chief writes {written}")


def _strategy_text(setting, this) -> str:
    """How the run is distributed, as the end of the "Training ..." line (nothing without a strategy)."""
    if setting is None:
        return ""
    if setting.strategy == MULTI_WORKER_MIRRORED:
        part = "the chief" if this.chief else "it writes nothing"
        return f", {setting.strategy} as worker {this.worker} of {this.workers} ({part})"
    devices = ", ".join(setting.devices) if setting.devices else "every GPU of this machine (else its CPU)"
    return f", {setting.strategy} over {devices}"


def _spec_name(spec) -> str:
    """The spec's `name:` (the default output file name); an invalid spec fails later with all its errors."""
    from modelspec.errors import SpecError
    from modelspec.loader import load_spec

    try:
        return load_spec(Path(spec)).name
    except SpecError:
        return Path(spec).stem


@click.command(epilog=epilog(EXIT_OK, EXIT_INVALID))
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="DATA", help="The data to evaluate on: " + DATA_HELP)
@click.option("--target", metavar="COLUMN", help="The CSV column holding the labels.")
@click.option("--weights", type=click.Path(dir_okay=False), help="With a SPEC: the weights to evaluate.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the spec's batch size.")
@distribute_option("Evaluate")
@format_option(["text", "json"])
def evaluate(model, data, target, weights, batch_size, distribute, output_format) -> None:
    """Evaluate MODEL (a .keras file written by `modelspec train` or `build`) or a SPEC (with --weights) on DATA:
    the loss and every metric of its `training:` block. The data is checked before TensorFlow starts."""
    from modelspec.trainer import evaluate as run

    evaluation = run(Path(model), data, target=target, weights=weights, batch_size=batch_size, distribute=distribute)
    if output_format == "json":
        report = {"version": 1, "model": model, "data": data, "examples": evaluation.examples,
                  "results": evaluation.results}  # fmt: skip
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{model} on {data} ({evaluation.examples:,} examples)")
    width = max(len(name) for name in evaluation.results)
    for name, value in evaluation.results.items():
        click.echo(f"  {name:<{width}}  {value:.6g}")
