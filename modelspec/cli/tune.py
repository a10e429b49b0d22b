"""`modelspec tune`: a hyperparameter search over a spec's fields, each trial linted before it trains."""

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
    tensorboard_option,
    training_data_options,
)
from modelspec.errors import EXIT_INVALID, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from modelspec.report.tune import summary_lines, tune_table
from modelspec.requests import Data, Engine, Options, Outputs, Search, TuneRequest
from modelspec.tuning.plan import ENGINES, LINT_PRUNE, PRUNERS, SAMPLERS, resolve_tune
from modelspec.tuning.results import results_json, write_outputs
from modelspec.tuning.space import USAGE
from modelspec.tuning.study import run_study
from modelspec.tuning.trial import TrialOutcome
from modelspec.variants import show

SEARCH_HELP = (
    "A field to search and its distribution: " + USAGE + ". The field addresses the spec as compare --vary does: "
    "a `defaults:` field (kernel_initializer: every layer that does not set its own), layers.NAME.FIELD, or a dotted "
    "path (training.optimizer.learning_rate). Quote the option for the shell; repeat it per field."
)

EXIT_HELP = epilog(
    EXIT_OK,
    EXIT_INVALID,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    note="Trials refused by lint, pruned or failed do not change the exit code; a shared study keeps every "
    "finished trial when a process stops.",
)


@click.command(epilog=EXIT_HELP)
@click.argument("spec", type=click.Path(dir_okay=False))
@training_data_options
@click.option("--search", "space", multiple=True, required=True, metavar="PATH=DISTRIBUTION", help=SEARCH_HELP)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Trials in all (with a shared --storage: every process's trials together).",
)
@click.option("--metric", metavar="QUANTITY", help="The quantity to optimise [default: val_loss, else loss].")
@click.option("--direction", type=click.Choice(["max", "min"]), help="[default: max for accuracies, else min].")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the spec's epochs in every trial.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Override the spec's batch size in every trial.")
@click.option(
    "--sampler",
    type=click.Choice(SAMPLERS),
    default="tpe",
    show_default=True,
    help="How values are chosen: TPE, random, or every combination (grid: choice and int only).",
)
@click.option(
    "--prune",
    type=click.Choice(PRUNERS),
    default="median",
    show_default=True,
    help="Stop a trial during training when its metric is behind: the median rule, ASHA, or never.",
)
@click.option(
    "--lint-prune",
    type=click.Choice(LINT_PRUNE),
    default="error",
    show_default=True,
    help="Refuse (never train) a trial whose spec has a lint error, or also a warning.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="optuna",
    show_default=True,
    help="optuna: trials in this process; ray: Ray Tune trials on a Ray cluster (modelspec[ray]).",
)
@click.option(
    "--storage",
    metavar="URL",
    help="Share the study with other processes: sqlite:///study.db, postgresql://..., or journal:FILE. "
    "A killed process's trial is retried (databases). [default: in memory]",
)
@click.option("--study", metavar="NAME", help="The study's name in --storage [default: the spec's name].")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Ray: trials at a time, one per worker process.",
)
@click.option("--address", metavar="HOST:PORT", help="Ray: the cluster to run on [default: a local one].")
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Database storage: seconds between a process's signs of life; a trial silent for 3 is retried.",
)
@seed_option("The first seed [default: the spec's]; trial N trains with seed + N.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Every trial as JSON [default: <spec name>.tune.json]."
)
@click.option("--plot", type=click.Path(dir_okay=False), help="The optimisation history and each field's effect (PNG).")
@click.option("--best-spec", type=click.Path(dir_okay=False), help="Write the best trial's spec (YAML) for `train`.")
@tensorboard_option("TensorBoard logs, one subfolder per trial (trial_N): tensorboard --logdir DIR.")
@max_params_option
@distribute_option("Train each trial")
@click.option("--quiet", is_flag=True, help="Print only the table.")
@format_option(RESULT_FORMATS, help="text: a line per trial and a table; json: the results on standard output.")
def tune(spec, data, validation_data, validation_split, target, space, trials, metric, direction, epochs, batch_size,
         sampler, prune, lint_prune, engine, storage, study, workers, address, heartbeat, seed, output, plot,
         best_spec, tensorboard, max_params, distribute, quiet, output_format) -> None:  # fmt: skip
    """Search the values of SPEC's fields (--search) for the best training run on DATA.

    Every sampled trial is resolved and linted before it trains (milliseconds, no TensorFlow): a trial with a lint
    error (or a warning, --lint-prune warning) is refused, recorded with its findings, and never trained; the
    sampler learns of it. The others train with the seed seed + trial number, report their metric after each
    epoch, and the pruner may stop them. Prints a line per trial and a table of the best; writes every trial as
    JSON, and with --plot and --best-spec a plot and the best trial's spec, which `modelspec train` reproduces.

    \b
    Example:
      modelspec tune specs/digits_mlp.yaml --data digits --trials 12 \\
          --search 'training.optimizer.learning_rate=loguniform(1e-4,1e-1)' \\
          --search 'kernel_initializer=choice(zeros,auto)' --plot tune.png --best-spec best.yaml
    """
    check_validation(validation_data, validation_split)
    options = Options(epochs=epochs, batch_size=batch_size, seed=seed, distribute=distribute, max_params=max_params)
    request = TuneRequest(
        Path(spec),
        Data(data, validation_data, validation_split, target),
        Search(tuple(space), trials, metric, direction, sampler, prune, lint_prune),
        Engine(engine, storage, study, workers, address, heartbeat),
        options,
        Outputs(
            results=output or f"{Path(spec).stem}.tune.json", plot=plot, best_spec=best_spec, tensorboard=tensorboard
        ),
    )
    plan = resolve_tune(request)
    talk = not quiet and output_format == "text"
    if talk:
        where = f" in {plan.engine.storage} (study {plan.engine.study})" if plan.engine.storage else ""
        click.echo(
            f"Tuning {plan.model.name} on {plan.data_label}: {plan.trials} trials, {plan.direction} "
            f"{plan.metric}, {plan.sampler} sampler, {plan.prune} pruning, engine {plan.engine.name}{where}"
        )

    def progress(outcome: TrialOutcome) -> None:
        if talk:
            click.echo(_trial_line(outcome))

    result = run_study(plan, progress)
    write_outputs(result)
    if output_format == "json":
        click.echo(results_json(result), nl=False)
        return
    print_table(tune_table(result))
    for line in summary_lines(result):
        click.echo(line)
    print_wrote(*plan.outputs.files)


def _trial_line(outcome: TrialOutcome) -> str:
    values = ", ".join(f"{name}={_short(value)}" for name, value in outcome.params.items())
    head = f"trial {outcome.number} ({values})"
    if outcome.state == "refused":
        found = "; ".join(
            f"{f['level']}[{f['code']}]{' ' + f['layer'] if f['layer'] else ''}: {f['message']}"
            for f in outcome.findings
            if f["level"] != "info"
        )
        return f"{head}: refused before training: {found}"
    if outcome.state == "failed":
        return f"{head}: failed: {outcome.error}"
    scores = score_text(outcome.rows[-1]) if outcome.rows else "no epoch"
    pruned = f"pruned ({outcome.pruned_by}) after epoch {outcome.epochs}: " if outcome.state == "pruned" else ""
    return f"{head}: {pruned}{scores} ({outcome.seconds:.1f} s)"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else show(value)
