"""``vward score``: re-score a CSV of observation sets with NEWS2 from the command line."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from alerting.score_csv import CsvInputError, score_csv


class _BadCsv(click.ClickException):
    """A CSV the scorer refuses; exit status 2 like other bad input to a click command."""

    exit_code = 2


@click.command("score")
@click.argument("csv_file", type=click.File("r"))
def score_command(csv_file: TextIO) -> None:
    """Print CSV_FILE (``-`` for stdin) with NEWS2 sub-scores, total, risk and completeness appended.

    Columns rr, spo2, scale, on_oxygen, sbp, hr, consciousness, temp; an empty cell is not measured.
    """
    try:
        score_csv(csv_file, sys.stdout)
    except CsvInputError as exc:
        raise _BadCsv(str(exc)) from exc
