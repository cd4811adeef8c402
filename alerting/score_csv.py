"""Re-score a CSV of observation sets with NEWS2: parse and check every row, score once, then write.

Pure apart from the two text streams it is handed. Nothing is written until the whole file has been
read and checked, so a bad row never leaves half an output behind.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from alerting.errors import AlertingError
from alerting.news2 import CONSCIOUSNESS_CODES, MISSING, PARAMETERS, RISK_LEVELS, News2Scores, score

INPUT_COLUMNS: tuple[str, ...] = ("rr", "spo2", "scale", "on_oxygen", "sbp", "hr", "consciousness", "temp")
OUTPUT_COLUMNS: tuple[str, ...] = (*(f"score_{p}" for p in PARAMETERS), "total", "risk", "complete")
_OXYGEN = {"true": 1.0, "yes": 1.0, "1": 1.0, "false": 0.0, "no": 0.0, "0": 0.0}


class CsvInputError(AlertingError, ValueError):
    """The CSV cannot be scored; the message names the line and the problem."""


def score_csv(source: TextIO, sink: TextIO) -> int:
    """Write ``source`` to ``sink`` with the NEWS2 columns appended; return the number of sets scored."""
    header, rows, columns = read_observations(source)
    scores = score(
        rr=columns["rr"], spo2=columns["spo2"], scale=columns["scale"].astype(np.int8),
        on_oxygen=columns["on_oxygen"], sbp=columns["sbp"], pulse=columns["hr"],
        consciousness=columns["consciousness"], temp=columns["temp"],
    )  # fmt: skip
    write_scored(sink, header, rows, scores)
    return len(rows)


def read_observations(source: TextIO) -> tuple[list[str], list[list[str]], dict[str, np.ndarray]]:
    """Parse the whole file: header, the rows as given, and float64 columns (NaN = not measured)."""
    reader = csv.reader(source)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvInputError("line 1: the file is empty; expected a header row")
        if header:
            header[0] = header[0].removeprefix("\ufeff")  # spreadsheets often start UTF-8 with a BOM
        position = _check_header(header)
        rows: list[list[str]] = []
        values: list[list[float]] = []
        for fields in reader:
            if not fields:
                continue  # a blank line is not a set
            line = reader.line_num
            if len(fields) != len(header):
                raise CsvInputError(f"line {line}: {len(fields)} fields, but the header has {len(header)}")
            values.append([_parse(name, fields[position[name]], line) for name in INPUT_COLUMNS])
            rows.append(fields)
    except csv.Error as exc:
        raise CsvInputError(f"line {reader.line_num}: {exc}") from exc
    table = np.array(values, dtype=np.float64).reshape(len(values), len(INPUT_COLUMNS))
    return header, rows, {name: table[:, i].copy() for i, name in enumerate(INPUT_COLUMNS)}


def write_scored(sink: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]], scores: News2Scores) -> None:
    """Each input row as given, then the sub-scores (empty where missing), total, risk and completeness."""
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow([*header, *OUTPUT_COLUMNS])
    sub_scores = scores.sub_scores.tolist()
    totals = scores.total.tolist()
    risks = scores.risk.tolist()
    complete = scores.complete.tolist()
    for i, fields in enumerate(rows):
        subs = ["" if s == MISSING else s for s in sub_scores[i]]
        flag = "true" if complete[i] else "false"
        writer.writerow([*fields, *subs, totals[i], RISK_LEVELS[risks[i]], flag])


def _check_header(header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    missing = [name for name in INPUT_COLUMNS if name not in names]
    if missing:
        raise CsvInputError(f"line 1: missing required column(s): {', '.join(missing)}")
    clashes = sorted({name for name in names if names.count(name) > 1 or name in OUTPUT_COLUMNS})
    if clashes:
        raise CsvInputError(f"line 1: column(s) {', '.join(clashes)} repeated or would clash with the output")
    return {name: names.index(name) for name in INPUT_COLUMNS}


def _parse(name: str, text: str, line: int) -> float:
    """One cell as the scorer's float code; an empty cell is not measured (NaN), never 0."""
    value = text.strip()
    if name == "scale":
        if value in ("", "1", "2"):
            return float(value or 1)
        problem = "must be 1 or 2 (empty means 1)"
    elif not value:
        return math.nan
    elif name == "on_oxygen":
        if value.lower() in _OXYGEN:
            return _OXYGEN[value.lower()]
        problem = "must be true/false, yes/no or 1/0 (empty: unknown)"
    elif name == "consciousness":
        if value.upper() in CONSCIOUSNESS_CODES:
            return float(CONSCIOUSNESS_CODES[value.upper()])
        problem = "must be one of A, C, V, P, U (empty: not assessed)"
    else:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and "_" not in value:
            return number
        problem = "is not a number (leave it empty if not measured)"
    raise CsvInputError(f"line {line}: {name} {text!r} {problem}")
