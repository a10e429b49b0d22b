"""`modelspec rules`: list the lint rules, or explain one."""

from __future__ import annotations

import click

from modelspec.errors import EXIT_CODES_HELP


@click.command("rules", epilog=EXIT_CODES_HELP + " An unknown rule is a usage error.")
@click.argument("code", required=False)
def rules_command(code) -> None:
    """List the lint rules, or explain one (by code, MS102, or name, he-on-saturating)."""
    from modelspec.linter import registry
    from modelspec.linter.docs import explain, rule_list

    click.echo(rule_list() if code is None else explain(registry.get(code)))
