"""Regenerate the schema-generated part of ``docs/configuration.md``.

::

    python docs/gen_config_reference.py          # rewrite the generated part in place
    python docs/gen_config_reference.py --check  # exit 1 when it is out of date

Only the text between the ``generated:start`` and ``generated:end`` markers is replaced; the
hand-written introduction above them is kept. The generated text is exactly
``truecourse.config.config_reference_markdown()``, so a new or changed setting shows up here
after one run of this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from truecourse.config import config_reference_markdown

DOC = Path(__file__).resolve().parent / "configuration.md"
START = "<!-- generated:start (python docs/gen_config_reference.py; do not edit below) -->"
END = "<!-- generated:end -->"


def split(text: str) -> tuple[str, str, str]:
    """``text`` as (before the start marker, the generated part, from the end marker on).

    Raises ValueError when either marker is missing.
    """
    head, start, rest = text.partition(START)
    body, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{DOC} must contain the lines {START!r} and {END!r}, in that order")
    return head, body.removeprefix("\n").removesuffix("\n"), tail


def regenerated(text: str) -> str:
    """``text`` with the part between the markers replaced by the current reference."""
    head, _body, tail = split(text)
    return f"{head}{START}\n{config_reference_markdown()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the file is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    try:
        wanted = regenerated(current)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if current != wanted:
            print(f"{DOC} is out of date: run python docs/gen_config_reference.py",
                  file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
