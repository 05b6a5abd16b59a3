"""``python -m truecourse`` runs the CLI."""

from truecourse.cli import main

main()
