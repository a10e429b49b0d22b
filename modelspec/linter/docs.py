"""Rule documentation from the registry: `modelspec rules`, the README's rules table, docs/rules.md.

`python -m modelspec.linter.docs [README.md]` rewrites the README section between the rules-table markers;
with `--check` it only reports (exit 1) whether the section is out of date.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from modelspec.fixing.fixers import applicability, describe
from modelspec.linter.registry import RULES
from modelspec.linter.rule import Rule

START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def rules_table() -> str:
    """The markdown table of every rule: code, name, default level, fix applicability, what it flags."""
    rows = ["| Code | Name | Level | Fix | What it flags |", "| --- | --- | --- | --- | --- |"]
    for rule in RULES.values():
        rows.append(
            f"| {rule.code} | `{rule.name}` | {rule.level} | {applicability(rule.code)} "
            f"| {rule.summary.replace('|', '/')} |"
        )
    return "\n".join(rows)


def rule_list() -> str:
    """The plain-text list `modelspec rules` prints: code, name, level, fix applicability, summary."""
    width = max(len(rule.name) for rule in RULES.values())
    rows = [f"{'CODE':<5}  {'NAME':<{width}}  {'LEVEL':<7}  {'FIX':<6}  WHAT IT FLAGS"]
    rows += [
        f"{rule.code}  {rule.name:<{width}}  {rule.level.value:<7}  {applicability(rule.code):<6}  {rule.summary}"
        for rule in RULES.values()
    ]
    return "\n".join(rows)


def explain(rule: Rule) -> str:
    """The text `modelspec rules CODE` prints: title, options, then the fixed sections (markdown)."""
    parts = [f"# {rule.code} {rule.name} ({rule.level})", "", rule.summary[0].upper() + rule.summary[1:] + "."]
    if rule.options:
        parts += [
            "",
            "Thresholds ([tool.modelspec.lint.thresholds]): "
            + ", ".join(f"{name} = {value:g}" for name, value in rule.options.items()),
        ]
    parts += ["", textwrap.fill(f"Fix: {describe(rule.code)}.", 100)]
    for title, text in rule.docs.sections():
        parts += ["", f"## {title}", ""]
        if title in ("Example", "Use instead"):
            parts += ["```yaml", text.rstrip("\n"), "```"]
            data = rule.docs.data if title == "Example" else rule.docs.use_instead_data
            if rule.docs.data and (title == "Example" or data is not None):
                parts += [
                    "",
                    "linted with `--data data.csv`, where data.csv holds:",
                    "",
                    "```csv",
                    data.rstrip("\n"),
                    "```",
                ]
            elif rule.docs.data:
                parts += ["", "linted with the same data."]
        elif title == "References":
            parts += [f"- {reference}" for reference in text.split("\n")]
        else:
            parts += [textwrap.fill(paragraph, 100) for paragraph in text.split("\n")]
    return "\n".join(parts)


def rules_markdown() -> str:
    """docs/rules.md: the table, then every rule's explanation."""
    return (
        "\n\n".join(
            [
                "# Lint rules",
                "Generated from the rule registry by `python -m modelspec.linter.docs`; "
                "`modelspec rules CODE` prints the same text. Fix: what `modelspec lint --fix` does about the "
                "rule's findings — *safe* (made by `--fix`), *unsafe* (made only with `--unsafe-fixes`: it changes "
                'what the model computes or how it trains) or *none*; see the README, "Fixing findings".',
                rules_table(),
            ]
            + [explain(rule).replace("# ", "## ", 1).replace("\n## ", "\n### ") for rule in RULES.values()]
        )
        + "\n"
    )


def replace_section(text: str, table: str) -> str:
    """Return ``text`` with the part between the markers replaced by ``table``; ValueError without markers."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} and {END} are missing")
    return text[: start + len(START)] + "\n" + table + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with --check, verify) the README's rules table and docs/rules.md."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    readme = Path(args[0] if args else "README.md")
    targets = {
        readme: replace_section(readme.read_text(encoding="utf-8"), rules_table()),
        readme.parent / "docs" / "rules.md": rules_markdown(),
    }
    stale = [path for path, text in targets.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if check:
        for path in stale:
            print(f"{path} is out of date: run `make rules-table`", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(targets[path], encoding="utf-8")
        print(f"Wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
