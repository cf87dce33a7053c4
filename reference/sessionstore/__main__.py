"""``python -m sessionstore``: the operator CLI, as the ``sessionstore`` command."""

from .cli import main

main(prog_name="sessionstore")
