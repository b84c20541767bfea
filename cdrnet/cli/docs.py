"""docs/cli.md, the command-line reference, generated from the commands' own ``--help``.

    python -m cdrnet.cli.docs              # rewrite docs/cli.md (run from the checkout)
    python -m cdrnet.cli.docs --check      # exit 1 when docs/cli.md is out of date

Why generated: a hand-written reference drifts from the options the moment one changes;
here every command and option appears exactly as ``--help`` prints it, and a test
(tests/test_cli_docs.py) fails when the file is stale, as sqlite-utils does with cog.
The help is rendered at a fixed width so the file does not depend on the terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click

#: Width the reference is rendered at (the CLI's own max_content_width).
WIDTH = 100
DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

HEADER = """# Command-line reference

Generated from each command's `--help` by `python -m cdrnet.cli.docs` (do not edit by hand;
`tests/test_cli_docs.py` fails when this file differs from the commands). Global options go
before the command name (`cdrnet -w case42 link`); `--quiet`/`-q` is accepted before or after it.
Every time shown to people is in the case's zone (the zone its dumps were ingested in) unless
a command's `--tz` says otherwise.
"""


def help_text(command: click.Command, name: str, parent: click.Context | None = None) -> str:
    """``--help`` of one command as the terminal shows it, at :data:`WIDTH` columns."""
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    return command.get_help(ctx).rstrip() + "\n"


def reference() -> str:
    """The whole reference: the group's help, then every command's, in ``cdrnet --help`` order."""
    from cdrnet.cli import cli

    root = click.Context(cli, info_name="cdrnet", **{**cli.context_settings, "terminal_width": WIDTH})
    parts = [HEADER, "## Commands\n"]
    names = cli.list_commands(root)
    parts += [f"- [`cdrnet {n}`](#cdrnet-{n}): {cli.get_command(root, n).get_short_help_str(80)}" for n in names]
    parts += ["", "## cdrnet\n", "```text", help_text(cli, "cdrnet").rstrip(), "```", ""]
    for n in names:
        parts += [f"## cdrnet {n}\n", "```text", help_text(cli.get_command(root, n), n, root).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write or check docs/cli.md (the CLI reference).")
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is out of date, write nothing")
    ap.add_argument("--out", type=Path, default=DOC, help=f"file to write [default: {DOC}]")
    args = ap.parse_args(argv)
    text = reference()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m cdrnet.cli.docs", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
