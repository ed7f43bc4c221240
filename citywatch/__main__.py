"""`python -m citywatch …`: the `citywatch` command's other door (the command lives with the tools, `tools/cli/`;
nothing of the core imports it)."""

from tools.cli import main

main()
