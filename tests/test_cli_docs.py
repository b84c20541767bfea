"""docs/cli.md is generated from every command's --help and must match it (as sqlite-utils checks with cog)."""

from __future__ import annotations

import click

from cdrnet.cli import cli
from cdrnet.cli.docs import DOC, main, reference


def test_cli_reference_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == reference(), "docs/cli.md is stale: run python -m cdrnet.cli.docs"


def test_every_command_and_option_is_in_the_reference():
    text = DOC.read_text(encoding="utf-8")
    ctx = click.Context(cli, info_name="cdrnet")
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert f"## cdrnet {name}\n" in text and f"Usage: cdrnet {name} " in text, name
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                if opt.startswith("-"):
                    assert opt in text, (name, opt)


def test_check_mode_fails_on_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text(reference().replace("--window", "--windows", 1), encoding="utf-8")
    assert main(["--check", "--out", str(stale)]) == 1
    assert capsys.readouterr().err == f"{stale} is out of date: run python -m cdrnet.cli.docs\n"
    assert main(["--out", str(stale)]) == 0 and main(["--check", "--out", str(stale)]) == 0
