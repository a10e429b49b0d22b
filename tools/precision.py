"""Lint the false-alarm corpus (corpus/: working models written by others) and report where today's rules cry wolf.

Prints docs/precision.md: the corpus's size per family, every warning and error the rules report on these
working models, grouped by rule, each with its one-line diagnosis from the KNOWN_FALSE_ALARMS table of
tests/test_corpus.py (or, for a finding that training confirmed, its evidence from the CONFIRMED table there), and
the info-level findings per rule. Pure Python (no TensorFlow), a few seconds.

    PYTHONPATH=$PWD .venv/bin/python tools/precision.py           # print the report
    PYTHONPATH=$PWD .venv/bin/python tools/precision.py --write   # and write it to docs/precision.md

It also lints the recall corpus (the mutants of tools/mutants.py, each judged by training in
corpus/mutants/verdicts.json, written by benchmarks/recall.py) and reports lint's recall on the real faults per
operator and per rule, without data (what `modelspec lint SPEC` sees: docs/precision.md, pure Python) and with
each mutant's training data (`modelspec lint SPEC --data DATA`: docs/recall-with-data.md, which needs NumPy to
generate the stand-in tasks; --write skips it without NumPy).

tests/test_corpus.py fails when docs/precision.md differs from what this script prints, so the published figures
cannot fall behind the corpus or the rules; tests/test_recall.py checks both recall documents.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from modelspec.diagnostics import Diagnostic, Level
from modelspec.errors import DataError, SpecError
from modelspec.linter.runner import DEFAULT_CONFIG, data_mismatch, data_profile, run
from modelspec.loader import load_spec

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DOC = ROOT / "docs" / "precision.md"
DATA_DOC = ROOT / "docs" / "recall-with-data.md"
VERDICTS = CORPUS / "mutants" / "verdicts.json"
REPORTED = (Level.WARNING, Level.ERROR)
# A finding on the corpus: (file relative to corpus/, rule code, layer or field path).
Key = tuple[str, str, Optional[str]]
# keras.applications family of each architecture, by the start of its class name (longest first).
FAMILIES = (
    ("ConvNeXt", "ConvNeXt"),
    ("DenseNet", "DenseNet"),
    ("EfficientNetV2", "EfficientNetV2"),
    ("EfficientNet", "EfficientNet"),
    ("InceptionResNet", "Inception-ResNet"),
    ("InceptionV3", "Inception"),
    ("MobileNetV3", "MobileNetV3"),
    ("MobileNetV2", "MobileNetV2"),
    ("MobileNet", "MobileNet"),
    ("NASNet", "NASNet"),
    ("ResNet", "ResNet"),
    ("VGG", "VGG"),
    ("Xception", "Xception"),
)
_APPLICATION = re.compile(r"keras\.applications\.(\w+)\(")
_EXAMPLE = re.compile(r"keras-team/keras-io, examples/(\w+)/")


@dataclass(frozen=True)
class Model:
    """One corpus file: where it is, its family, its size, and what lint says of it."""

    key: str
    family: str
    layers: int
    parameters: int
    findings: tuple[Diagnostic, ...]


def header(path: Path) -> str:
    """The comment lines at the top of a corpus file."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def family(path: Path) -> str:
    text = header(path)
    application = _APPLICATION.search(text)
    if application:
        name = application.group(1)
        return "applications: " + next((fam for prefix, fam in FAMILIES if name.startswith(prefix)), name)
    example = _EXAMPLE.search(text)
    return f"keras-io: {example.group(1)}" if example else "unknown"


def corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.yaml"))


def lint_corpus() -> list[Model]:
    """Load and lint every corpus file (an invalid one contributes its validation errors)."""
    models = []
    for path in corpus_files():
        key = path.relative_to(CORPUS).as_posix()
        try:
            spec = load_spec(path)
        except SpecError as exc:
            models.append(Model(key, family(path), 0, 0, tuple(exc.diagnostics)))
            continue
        findings = tuple(run(spec, DEFAULT_CONFIG))
        analysis = spec.analysis
        models.append(Model(key, family(path), len(analysis.layers), analysis.total_params, findings))
    return models


def alarms(models: list[Model]) -> dict[Key, Diagnostic]:
    """Every warning and error on the corpus, by (file, code, layer): the first finding of each."""
    found: dict[Key, Diagnostic] = {}
    for model in models:
        for finding in model.findings:
            if finding.level in (Level.WARNING, Level.ERROR):
                found.setdefault((model.key, finding.code, finding.layer), finding)
    return found


def refused() -> list[str]:
    path = CORPUS / "applications" / "REFUSED.txt"
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def _confirmed_part(confirmed: dict[Key, str], found: dict[Key, Diagnostic]) -> list[str]:
    """The findings on corpus models that training confirmed, with their evidence."""
    if not confirmed:
        return []
    out = [
        "## Findings that training confirmed (not false alarms)",
        "",
        "A model of the corpus, as written (Keras's defaults, the stated optimizer), measured to train worse than",
        "with the finding's hint: the corpus's premise (\"they train\") fails there, and the finding is true.",
        "",
    ]
    for why in dict.fromkeys(confirmed.values()):
        where = [key for key in sorted(confirmed, key=str) if confirmed[key] == why and key in found]
        places = "; ".join(f"`{key[0]}` {key[1]} at {key[2] or '(spec)'}" for key in where)
        out += [f"- {places}: {why}", ""]
    return out


def _false_alarms_part(found: dict[Key, Diagnostic], known: dict[Key, str], flagged: int, models: int) -> list[str]:
    """The false alarms per rule, and each one's diagnosis."""
    per_rule: dict[str, list[Key]] = defaultdict(list)
    for key in sorted(found, key=lambda k: (k[1], k[0], k[2] or "")):
        per_rule[key[1]].append(key)
    out = ["## False alarms per rule (warning and error level)", ""]
    if not found:
        return out + [
            "None: lint reports no warning or error on any model of the corpus that training did not confirm.",
            "",
        ]
    out += [
        f"{len(found)} findings on {flagged} of {models} models.",
        "",
        "| rule | level | findings | models |",
        "|---|---|---:|---|",
    ]
    for code, keys in per_rule.items():
        names = ", ".join(sorted({Path(key[0]).stem for key in keys}))
        out.append(f"| {code} `{found[keys[0]].name}` | {found[keys[0]].level.value} | {len(keys)} | {names} |")
    out += ["", "## Each false alarm and why the rule's premise fails there", ""]
    for code, keys in per_rule.items():
        out += [f"### {code} `{found[keys[0]].name}`", ""]
        by_why: dict[str, list[Key]] = defaultdict(list)  # one diagnosis, every place it explains
        for key in keys:
            by_why[known.get(key, "NOT DIAGNOSED: a new finding, missing from KNOWN_FALSE_ALARMS")].append(key)
        for why, where in by_why.items():
            places = "; ".join(f"`{key[0]}` {key[2] or '(spec)'}" for key in where)
            out.append(f"- {places}: {why}")
        out.append("")
    return out


def render(models: list[Model], known: dict[Key, str], confirmed: dict[Key, str]) -> str:
    """docs/precision.md's text, from the lint of the corpus, the table of diagnoses and the findings that training
    confirmed (not false alarms)."""
    everything = alarms(models)
    found = {key: finding for key, finding in everything.items() if key not in confirmed}
    out = [
        "# Precision: what lint reports on working models",
        "",
        "Generated by `tools/precision.py` (do not edit by hand; `tests/test_corpus.py` checks it is current).",
        "",
        "The false-alarm corpus, `corpus/`, holds models other people wrote and trained: the models of Keras's",
        "official examples (keras-team/keras-io, `examples/`) translated by hand with Keras's defaults written out",
        "(`corpus/keras_io/`, each file's header names its source, commit and deviations), and the",
        "`keras.applications` architectures imported by `modelspec import` (`corpus/applications/`, regenerated by",
        "`tools/corpus_applications.py`). These models train, so every warning or error lint reports on them is a",
        "false alarm by the standard of issue 17 (a warning should mean that training will measurably suffer),",
        "unless training the model as written confirms the finding (listed apart below).",
        "",
        "## Corpus",
        "",
        "| family | models | layers | parameters | models with a false alarm (warning or error) |",
        "|---|---:|---:|---:|---:|",
    ]
    by_family: dict[str, list[Model]] = defaultdict(list)
    for model in models:
        by_family[model.family].append(model)
    flagged = {key[0] for key in found}
    for name in sorted(by_family):
        group = by_family[name]
        out.append(
            f"| {name} | {len(group)} | {sum(m.layers for m in group):,} | {sum(m.parameters for m in group):,} "
            f"| {sum(m.key in flagged for m in group)} |"
        )
    total_flagged = len({m.key for m in models} & flagged)
    out += [
        f"| **all** | **{len(models)}** | **{sum(m.layers for m in models):,}** "
        f"| **{sum(m.parameters for m in models):,}** | **{total_flagged}** |",
        "",
    ]
    if refused():
        out += ["Not in the corpus: `modelspec import` refuses " + "; ".join(refused()) + ".", ""]
    out += _confirmed_part(confirmed, everything)
    out += _false_alarms_part(found, known, total_flagged, len(models))
    infos = Counter(
        (finding.code, finding.name) for model in models for finding in model.findings if finding.level == Level.INFO
    )
    out += [
        "## Info-level findings (not counted as false alarms)",
        "",
        "| rule | findings | models |",
        "|---|---:|---:|",
    ]
    for (code, name), count in sorted(infos.items()):
        touched = sum(any(f.code == code for f in model.findings) for model in models)
        out.append(f"| {code} `{name}` | {count} | {touched} |")
    return "\n".join(out + recall_part()) + "\n"


def recall_part() -> list[str]:
    """docs/precision.md's recall section (none before benchmarks/recall.py has written its verdicts)."""
    if not VERDICTS.exists():
        return []
    return [
        "",
        "## Recall: what lint reports on faulty mutants",
        "",
        *render_recall(lint_mutants(), with_data=False),
        "",
        "The same with each mutant's training data (`lint --data`): docs/recall-with-data.md.",
    ]


# ---------------------------------------------------------------------------------------------------- recall


@dataclass(frozen=True)
class Linted:
    """One mutant of the recall corpus: its verdict from training and what lint reports on it."""

    id: str
    operator: str
    fault: bool
    why: str  # why training calls it a fault (or not)
    reported: tuple[str, ...]  # codes found at warning or error level


def recall_tools():
    """benchmarks/recall.py as a module (its stand-in tasks, and tools/mutants.py as ``.mutants``)."""
    return _load_module("_precision_recall", ROOT / "benchmarks" / "recall.py")


def _load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_SCRATCH = re.compile(r"/tmp/[^/\s]+/")  # the scratch folder the stand-in tasks were written to


def _why(verdict: dict) -> str:
    if verdict.get("refused"):
        return "refused: " + _SCRATCH.sub("", verdict["refused"])[:160]
    return ", ".join(verdict["why"]) or "trains as well as its original"


def lint_mutants(data: bool = False) -> list[Linted]:
    """Lint every mutant (as trained) that verdicts.json judges; ``data``: with its stand-in task, as `lint --data`
    (data that `train` refuses is an MS004 error and no rule runs, as in `lint_paths`). Needs NumPy with ``data``."""
    tools = recall_tools()
    verdicts = json.loads(VERDICTS.read_text(encoding="utf-8"))["mutants"]
    bases = {base.name: base for base in tools.mutants.BASES}
    linted = []
    with tempfile.TemporaryDirectory() as folder:
        files: dict[str, str] = {}
        for mutant in tools.mutants.generate():
            verdict = verdicts.get(mutant.id)
            if verdict is None:
                continue
            base = bases[mutant.base]
            model = load_spec(tools.trained_spec(mutant.spec, base.data in tools.REGRESSION))
            if data:
                if base.data not in files:
                    files[base.data] = tools.write_task(base.data, Path(folder))[0]
                try:
                    findings = run(model, DEFAULT_CONFIG, data_profile(model, files[base.data]))
                except DataError as exc:
                    findings = [data_mismatch(model, exc)]
            else:
                findings = run(model, DEFAULT_CONFIG)
            reported = tuple(sorted({f.code for f in findings if f.level in REPORTED}))
            linted.append(Linted(mutant.id, mutant.operator, verdict["verdict"] == "fault", _why(verdict), reported))
    return linted


def recall(linted: list[Linted]) -> tuple[int, int]:
    """(faults reported at warning or error level, faults)."""
    faults = [m for m in linted if m.fault]
    return sum(bool(m.reported) for m in faults), len(faults)


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def render_recall(linted: list[Linted], with_data: bool) -> list[str]:
    """The recall section's lines: per operator, per rule, the misses and the non-faults lint warns on."""
    record = json.loads(VERDICTS.read_text(encoding="utf-8"))
    tools = recall_tools()
    seeds = ", ".join(map(str, record["seeds"]))
    how = (
        "`modelspec lint SPEC --data DATA`, each mutant with its stand-in task"
        if with_data
        else "`modelspec lint SPEC`, without data"
    )
    hit, faults = recall(linted)
    out = [
        f"Lint ({how}) on the recall corpus: {len(linted)} mutants of {len(tools.mutants.BASES)} small working "
        "models of `corpus/keras_io/` (tools/mutants.py: the bases, their stand-in tasks and deviations, and the "
        "fault operators of DeepCrime and DeepMutation), each trained against its original with `compare` "
        f"(seeds {seeds}) by `benchmarks/recall.py` on {record['machine']} "
        f"({_seconds(record) / 60:.0f} minutes of training; `PYTHONPATH=$PWD python benchmarks/recall.py` "
        "re-runs what changed). A mutant is a **fault** when training measurably suffers by the calibration "
        f"criteria (≥ {record['criteria']['slower']:g}× the original's epochs to "
        f"{record['criteria']['target']:.0%} of its final accuracy, a final validation loss ≥ "
        f"{record['criteria']['worse_relative']:.0%} and ≥ {record['criteria']['worse_absolute']:g} worse, not "
        "finite, or refused by Keras or compare's data check); the other mutants do not count in recall.",
        "",
        f"**Recall: {hit} of {faults} faults reported at warning or error level ({_percent(hit, faults)}).**",
        "",
        "| operator | mutants | faults | reported | recall | not faults | of which warned on |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for operator in tools.mutants.OPERATOR_NAMES:
        group = [m for m in linted if m.operator == operator]
        if not group:
            continue
        got, of = recall(group)
        fine = [m for m in group if not m.fault]
        warned = sum(bool(m.reported) for m in fine)
        out.append(f"| {operator} | {len(group)} | {of} | {got} | {_percent(got, of)} | {len(fine)} | {warned} |")
    out += [
        f"| **all** | **{len(linted)}** | **{faults}** | **{hit}** | **{_percent(hit, faults)}** "
        f"| **{sum(not m.fault for m in linted)}** | **{sum(bool(m.reported) and not m.fault for m in linted)}** |",
        "",
        "Which rules report the faults (a fault may be reported by several):",
        "",
        "| rule | faults reported | the only rule on |",
        "|---|---:|---:|",
    ]
    codes = Counter(code for m in linted if m.fault for code in m.reported)
    alone = Counter(m.reported[0] for m in linted if m.fault and len(m.reported) == 1)
    for code, count in sorted(codes.items(), key=lambda item: (-item[1], item[0])):
        out.append(f"| {code} | {count} | {alone.get(code, 0)} |")
    missed = [m for m in linted if m.fault and not m.reported]
    out += ["", f"Faults lint misses ({len(missed)}):", ""]
    out += [f"- `{m.id}`: {m.why}" for m in missed] or ["- none"]
    warned = [m for m in linted if not m.fault and m.reported]
    out += ["", f"Mutants that train as well as their original and that lint warns on ({len(warned)}):", ""]
    out += [f"- `{m.id}`: {', '.join(m.reported)}" for m in warned] or ["- none"]
    return out


def _seconds(record: dict) -> float:
    return sum(item["seconds"] for part in ("bases", "mutants") for item in record[part].values())


def render_data_doc(linted: list[Linted]) -> str:
    return (
        "\n".join(
            [
                "# Recall with data: what `lint --data` reports on faulty mutants",
                "",
                "Generated by `tools/precision.py --write` (needs NumPy; do not edit by hand; `tests/test_recall.py` "
                "checks it is current). docs/precision.md has the same figures without data.",
                "",
                *render_recall(linted, with_data=True),
            ]
        )
        + "\n"
    )


def corpus_tables() -> tuple[dict[Key, str], dict[Key, str]]:
    """The table of diagnoses and the table of confirmed findings, from tests/test_corpus.py (one copy of each;
    the test holds them)."""
    module = _load_module("_corpus_test", ROOT / "tests" / "test_corpus.py")
    return module.KNOWN_FALSE_ALARMS, module.CONFIRMED


def main(argv: list[str]) -> None:
    text = render(lint_corpus(), *corpus_tables())
    print(text, end="")
    if "--write" in argv:
        DOC.write_text(text, encoding="utf-8")
        print(f"Wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
        if importlib.util.find_spec("numpy") is None:
            print(f"NumPy is not installed: {DATA_DOC.relative_to(ROOT)} is left as it is", file=sys.stderr)
        elif VERDICTS.exists():
            DATA_DOC.write_text(render_data_doc(lint_mutants(data=True)), encoding="utf-8")
            print(f"Wrote {DATA_DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
