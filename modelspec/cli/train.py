"""`modelspec train` and `modelspec evaluate`: the spec's training block runs on real data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from modelspec.cli.common import (
    DATA_HELP,
    RESULT_FORMATS,
    check_validation,
    distribute_option,
    epilog,
    format_option,
    max_params_option,
    print_prepared,
    print_wrote,
    score_text,
    seed_option,
    set_option,
    shown,
    tensorboard_option,
    training_data_options,
)
from modelspec.errors import EXIT_INVALID, EXIT_LINT, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from modelspec.requests import Data, EvaluateRequest, Options, Outputs, TrainRequest
from modelspec.resolve import Distribution, resolve_evaluate, resolve_train
from modelspec.schema.distribute import MULTI_WORKER_MIRRORED
from modelspec.trainer import run_evaluate, run_train

EXIT_HELP = epilog(
    EXIT_OK,
    EXIT_LINT,
    EXIT_INVALID,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    note="Interrupted, it leaves the last complete epoch's checkpoint intact. train exits 2 on an invalid spec, data "
    "that does not fit it, an unusable setting or output, or a --set that is malformed, names a layer the spec lacks "
    "or makes the spec invalid.",
)


@click.command(epilog=EXIT_HELP)
@click.argument("spec", type=click.Path(dir_okay=False))
@training_data_options
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="The trained .keras file [default: <spec name>.keras]."
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the spec's epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the spec's batch size.")
@seed_option("Override the spec's seed (weights and data order).")
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
@tensorboard_option("Write TensorBoard logs (loss and metrics per epoch) to this folder: tensorboard --logdir DIR.")
@click.option("--quiet", is_flag=True, help="One line per epoch, no progress bar.")
@distribute_option("Train")
@max_params_option
@click.option("--strict", is_flag=True, help="Stop on lint warnings too, not only on lint errors.")
@set_option
def train(spec, data, validation_data, validation_split, target, output, epochs, batch_size, seed, weights, history,
          plot, checkpoints, resume, tensorboard, quiet, distribute, max_params, strict,
          overrides) -> None:  # fmt: skip
    """Train SPEC on DATA with its `training:` block, then write the model, its history and (with --plot) curves.

    Everything is checked before TensorFlow starts: the spec (lint gate, parameter budget, pretrained weights), the
    data against the spec and every output path. With a seed, two runs give the same weights; without one, the seed
    drawn is recorded in the history, and --seed with it reproduces the run. With `training.distribute` or
    --distribute, `batch_size` is the global batch, split across the replicas; on a cluster only the chief writes.
    With --set, the spec trained (and the one the .keras file carries) has those fields set.

    \b
    Example:
      modelspec train specs/digits_mlp.yaml --data digits --set training.epochs=1 --set layers.hidden.units=32
    """
    check_validation(validation_data, validation_split)
    request = TrainRequest(
        Path(spec),
        Data(data, validation_data, validation_split, target),
        Options(
            epochs=epochs, batch_size=batch_size, seed=seed, weights=weights, distribute=distribute,
            max_params=max_params, strict=strict, checkpoints=checkpoints, resume=resume, overrides=overrides,
        ),
        Outputs(model=output, history=history, plot=plot, named=True, tensorboard=tensorboard),
        show_progress=True,
        quiet=quiet,
    )  # fmt: skip
    resolved = resolve_train(request)
    print_prepared(resolved.prepared)
    train_set, validation_set = resolved.train_set, resolved.validation_set
    held = f", validating on {validation_set.size:,}" if validation_set is not None else ""
    where = _strategy_text(resolved.distribution)
    model = resolved.prepared.model
    click.echo(f"Training {model.name} on {shown(train_set.source)}: {train_set.size:,} examples{held}{where}")
    trained = run_train(resolved)
    if trained.history.rows:
        last = trained.history.rows[-1]
        epochs_done = int(last["epoch"])
        click.echo(f"Trained {epochs_done} epoch{'s' if epochs_done != 1 else ''}: {score_text(last)}")
    files = [*resolved.outputs.files, *([f"TensorBoard logs in {tensorboard}"] if tensorboard else [])]
    written = ", ".join(str(path) for path in files)
    this = resolved.distribution.role
    if this.chief:
        print_wrote(written)
    else:
        click.echo(f"Worker {this.worker} wrote nothing: the chief writes {written}")


def _strategy_text(distribution: Distribution) -> str:
    """How the run is distributed, as the end of the "Training ..." line (nothing without a strategy)."""
    setting, this = distribution.setting, distribution.role
    if setting is None:
        return ""
    if setting.strategy == MULTI_WORKER_MIRRORED:
        part = "the chief" if this.chief else "it writes nothing"
        return f", {setting.strategy} as worker {this.worker} of {this.workers} ({part})"
    devices = ", ".join(setting.devices) if setting.devices else "every GPU of this machine (else its CPU)"
    return f", {setting.strategy} over {devices}"


@click.command(
    epilog=epilog(
        EXIT_OK,
        EXIT_INVALID,
        note="evaluate exits 2 on an invalid model or spec, data that does not fit it, or a --set that is "
        "malformed, names a layer the spec lacks or makes the spec invalid.",
    )
)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="DATA", help="The data to evaluate on: " + DATA_HELP)
@click.option("--target", metavar="COLUMN", help="The CSV column holding the labels.")
@click.option("--weights", type=click.Path(dir_okay=False), help="With a SPEC: the weights to evaluate.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the spec's batch size.")
@distribute_option("Evaluate")
@format_option(RESULT_FORMATS)
@set_option
def evaluate(model, data, target, weights, batch_size, distribute, output_format, overrides) -> None:
    """Evaluate MODEL (a .keras file written by `modelspec train` or `build`) or a SPEC (with --weights) on DATA:
    the loss and every metric of its `training:` block. The data is checked before TensorFlow starts. A SPEC
    without --weights (and without `pretrained:`) is refused: its scores would be those of a random model. --set
    changes the spec (of a .keras file: the one it carries) before it is evaluated: its metrics, its loss, a
    layer's dropout rate (its weights must still fit)."""
    options = Options(weights=weights, batch_size=batch_size, distribute=distribute, overrides=overrides)
    resolved = resolve_evaluate(EvaluateRequest(Path(model), Data(data, target=target), options))
    evaluation = run_evaluate(resolved)
    if output_format == "json":
        report = {"version": 1, "model": model, "data": data, "examples": evaluation.examples,
                  "results": evaluation.results}  # fmt: skip
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{model} on {data} ({evaluation.examples:,} examples)")
    width = max(len(name) for name in evaluation.results)
    for name, value in evaluation.results.items():
        click.echo(f"  {name:<{width}}  {value:.6g}")
