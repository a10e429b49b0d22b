"""Run the command line as ``python -m modelspec``."""

from modelspec.cli import main

main()
