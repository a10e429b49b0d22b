"""A training history as JSON and CSV (one row per epoch: every loss and metric, the learning rate, the seconds)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Union

from modelspec.atomic import write_text


def history_paths(path: Union[str, os.PathLike]) -> tuple[Path, Path]:
    """The JSON and CSV files a history goes to: ``run.json`` (or ``run.csv``, or ``run``) gives both."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in (".json", ".csv") else path
    return stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".csv")


def history_json(history, **about) -> str:
    """``{"version": 1, ...about, "columns": [...], "epochs": [{...}, ...]}``."""
    return json.dumps({"version": 1, **about, "columns": history.columns(), "epochs": history.rows}, indent=2) + "\n"


def history_csv(history) -> str:
    columns = history.columns()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history.rows:
        writer.writerow({name: row.get(name, "") for name in columns})
    return buffer.getvalue()


def write_history(history, path: Union[str, os.PathLike], **about) -> tuple[Path, Path]:
    """Write the history as JSON and CSV beside each other, each atomically; return both paths."""
    json_path, csv_path = history_paths(path)
    write_text(json_path, history_json(history, **about))
    write_text(csv_path, history_csv(history))
    return json_path, csv_path
