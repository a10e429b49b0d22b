"""Renderers, one module per output: the lint reporters (text, json, github, sarif: each renders a ``LintResult``
to a text stream; ``REPORTERS`` feeds `modelspec lint --format`), and the tables and files of the other commands
(the pretrained plan, a probe, a comparison, a training history, the plots)."""

from __future__ import annotations

from collections.abc import Callable

from modelspec.report import github, json_report, sarif, text

Reporter = Callable[..., None]  # (result, stream, *, color: bool) -> None

REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_report.render,
    "github": github.render,
    "sarif": sarif.render,
}


def default_format(environ) -> str:
    """github inside GitHub Actions (GITHUB_ACTIONS=true), text everywhere else."""
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"
