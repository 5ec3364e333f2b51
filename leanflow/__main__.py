"""Run the CLI as `python -m leanflow`."""

from leanflow.cli import main

main()
