"""`modelspec rules`: list the lint rules, or explain one."""

from __future__ import annotations

import click

from modelspec.cli.common import epilog
from modelspec.errors import EXIT_INVALID, EXIT_OK
from modelspec.linter import registry
from modelspec.linter.docs import explain, rule_list


@click.command("rules", epilog=epilog(EXIT_OK, EXIT_INVALID, note="An unknown rule is a usage error.", limits=False))
@click.argument("code", required=False)
def rules_command(code) -> None:
    """List the lint rules, or explain one (by code, MS102, or name, he-on-saturating)."""
    click.echo(rule_list() if code is None else explain(registry.get(code)))
