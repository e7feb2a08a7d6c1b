"""`python -m evidentia` runs the CLI (useful where the console script is not on PATH)."""

from .cli import main

main()
