"""`python -m scribe` runs the command line."""

from scribe.cli import main

main()
