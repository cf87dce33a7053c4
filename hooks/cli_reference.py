"""The command-line reference, generated from the commands themselves.

Both CLIs are click groups (``sessionstore.cli:main``, the operator's;
``sessionstore_conformance.cli:main``, the kit's). For the group and each of its
commands, the page shows the first line of its help and its ``--help`` output exactly
as the command prints it: nothing here restates an option.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

#: The program name -> where its click group is (the [project.scripts] of pyproject.toml).
PROGRAMS = {
    "sessionstore": "sessionstore.cli:main",
    "sessionstore-conformance": "sessionstore_conformance.cli:main",
}
#: Help is formatted at this width, as on an 88-column terminal.
WIDTH = 88


def _group(program: str) -> click.Group:
    module, _, name = PROGRAMS[program].partition(":")
    group: Any = getattr(importlib.import_module(module), name)
    assert isinstance(group, click.Group), f"{PROGRAMS[program]} is not a click group"
    return group


def _help(command: click.Command, name: str, parent: click.Context | None) -> str:
    ctx = click.Context(
        command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH
    )
    return command.get_help(ctx)


def markdown(program: str) -> str:
    group = _group(program)
    root = click.Context(group, info_name=program, terminal_width=WIDTH, max_content_width=WIDTH)
    lines = [f"```text\n$ {program} --help\n{_help(group, program, None)}\n```", ""]
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        if command is None or command.hidden:
            continue
        lines += [
            f"### {program} {name}",
            "",
            command.get_short_help_str(limit=200),
            "",
            f"```text\n$ {program} {name} --help\n{_help(command, name, root)}\n```",
            "",
        ]
    return "\n".join(lines)
