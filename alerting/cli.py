"""``vward score``: re-score a CSV of observation sets with NEWS2 or NPEWS from the command line."""

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
    """Print CSV_FILE (``-`` for stdin) with sub-scores, total, risk or level, and completeness appended.

    NEWS2 columns: rr, spo2, scale, on_oxygen, sbp, hr, consciousness, temp. A column age_band or
    age_months selects NPEWS: rr, resp_distress, spo2, oxygen, hr, sbp, crt, and optionally o2_percent,
    o2_lpm, bp_not_obtained. An empty cell is not measured.
    """
    try:
        score_csv(csv_file, sys.stdout)
    except CsvInputError as exc:
        raise _BadCsv(str(exc)) from exc
