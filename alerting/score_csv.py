"""Re-score a CSV of observation sets with NEWS2, or NPEWS when it has an age column: parse and check every row,
score once, then write.

Pure apart from the two text streams it is handed. Nothing is written until the whole file has been
read and checked, so a bad row never leaves half an output behind. An ``age_band`` or ``age_months``
column selects NPEWS; the output conventions are the same for both scores.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from alerting import news2, npews
from alerting.errors import AlertingError
from alerting.score_choice import age_band_of_months

INPUT_COLUMNS: tuple[str, ...] = ("rr", "spo2", "scale", "on_oxygen", "sbp", "hr", "consciousness", "temp")
OUTPUT_COLUMNS: tuple[str, ...] = (*(f"score_{p}" for p in news2.PARAMETERS), "total", "risk", "complete")
AGE_COLUMNS: tuple[str, ...] = ("age_band", "age_months")
NPEWS_INPUT_COLUMNS: tuple[str, ...] = ("rr", "resp_distress", "spo2", "oxygen", "hr", "sbp", "crt")
NPEWS_OPTIONAL_COLUMNS: tuple[str, ...] = ("o2_percent", "o2_lpm", "bp_not_obtained")  # absent = all empty
NPEWS_OUTPUT_COLUMNS: tuple[str, ...] = (*(f"score_{p}" for p in npews.PARAMETERS), "total", "level", "complete")
_OXYGEN = {"true": 1.0, "yes": 1.0, "1": 1.0, "false": 0.0, "no": 0.0, "0": 0.0}
_AGE_BANDS = {band.lower(): code for code, band in enumerate(npews.AGE_BANDS)}


class CsvInputError(AlertingError, ValueError):
    """The CSV cannot be scored; the message names the line and the problem."""


class _Problem(Exception):
    """What is wrong with one cell; the reader adds the line, column and text."""


@dataclass(frozen=True)
class _Format:
    """One score's columns: those read (in order; ``age`` stands for whichever age column is given)."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    output: tuple[str, ...]
    parse: Callable[[str, str], float]


def score_csv(source: TextIO, sink: TextIO) -> int:
    """Write ``source`` to ``sink`` with the score's columns appended; return the number of sets scored."""
    header, rows, columns, is_npews = read_observations(source)
    c = columns
    if is_npews:
        pews = npews.score(
            age_band=c["age"].astype(np.int8), rr=c["rr"], resp_distress=c["resp_distress"], spo2=c["spo2"],
            oxygen=c["oxygen"], o2_percent=c["o2_percent"], o2_lpm=c["o2_lpm"], hr=c["hr"], sbp=c["sbp"],
            bp_not_obtained=c["bp_not_obtained"], crt=c["crt"],
        )  # fmt: skip
        levels = [npews.LEVELS[v] for v in pews.level.tolist()]
        _write(sink, header, rows, NPEWS_OUTPUT_COLUMNS, pews.sub_scores, pews.total, levels, pews.complete)
    else:
        scores = news2.score(
            rr=c["rr"], spo2=c["spo2"], scale=c["scale"].astype(np.int8), on_oxygen=c["on_oxygen"], sbp=c["sbp"],
            pulse=c["hr"], consciousness=c["consciousness"], temp=c["temp"],
        )  # fmt: skip
        risks = [news2.RISK_LEVELS[r] for r in scores.risk.tolist()]
        _write(sink, header, rows, OUTPUT_COLUMNS, scores.sub_scores, scores.total, risks, scores.complete)
    return len(rows)


def read_observations(source: TextIO) -> tuple[list[str], list[list[str]], dict[str, np.ndarray], bool]:
    """Parse the whole file: header, the rows as given, float64 columns (NaN = not measured) and whether
    it is to be scored with NPEWS."""
    reader = csv.reader(source)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvInputError("line 1: the file is empty; expected a header row")
        if header:
            header[0] = header[0].removeprefix("\ufeff")  # spreadsheets often start UTF-8 with a BOM
        names = [name.strip() for name in header]
        is_npews = any(name in names for name in AGE_COLUMNS)
        layout = _NPEWS if is_npews else _NEWS2
        position = _check_header(names, layout)
        read = [*layout.required, *layout.optional]
        rows: list[list[str]] = []
        values: list[list[float]] = []
        for fields in reader:
            if not fields:
                continue  # a blank line is not a set
            line = reader.line_num
            if len(fields) != len(header):
                raise CsvInputError(f"line {line}: {len(fields)} fields, but the header has {len(header)}")
            row = [_cell(layout, names, position[name], fields, line) for name in read]
            if is_npews:
                _check_npews_row(dict(zip(read, row, strict=True)), line)
            values.append(row)
            rows.append(fields)
    except csv.Error as exc:
        raise CsvInputError(f"line {reader.line_num}: {exc}") from exc
    table = np.array(values, dtype=np.float64).reshape(len(values), len(read))
    return header, rows, {name: table[:, i].copy() for i, name in enumerate(read)}, is_npews


def _write(
    sink: TextIO,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    output: Sequence[str],
    sub_scores: np.ndarray,
    totals: np.ndarray,
    levels: Sequence[str],
    complete: np.ndarray,
) -> None:
    """Each input row as given, then the sub-scores (empty where missing), total, level and completeness."""
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow([*header, *output])
    subs, total, flags = sub_scores.tolist(), totals.tolist(), complete.tolist()
    for i, fields in enumerate(rows):
        cells = ["" if s < 0 else s for s in subs[i]]  # both scorers mark a missing sub-score negative
        writer.writerow([*fields, *cells, total[i], levels[i], "true" if flags[i] else "false"])


def _check_header(names: list[str], layout: _Format) -> dict[str, int | None]:
    """Column positions by name (None for an absent optional column; ``age`` for the age column)."""
    ages = [name for name in AGE_COLUMNS if name in names]
    if len(ages) > 1:
        raise CsvInputError("line 1: give age_band or age_months, not both")
    needed = [ages[0] if name == "age" else name for name in layout.required]
    missing = [name for name in needed if name not in names]
    if missing:
        raise CsvInputError(f"line 1: missing required column(s): {', '.join(missing)}")
    clashes = sorted({name for name in names if names.count(name) > 1 or name in layout.output})
    if clashes:
        raise CsvInputError(f"line 1: column(s) {', '.join(clashes)} repeated or would clash with the output")
    position: dict[str, int | None] = {name: names.index(name) for name in layout.optional if name in names}
    position.update({name: names.index(column) for name, column in zip(layout.required, needed, strict=True)})
    return {name: position.get(name) for name in (*layout.required, *layout.optional)}


def _cell(layout: _Format, names: list[str], index: int | None, fields: list[str], line: int) -> float:
    """One cell as the scorer's float code (an absent optional column reads as empty)."""
    if index is None:
        return math.nan
    text = fields[index]
    try:
        return layout.parse(names[index], text.strip())
    except _Problem as problem:
        raise CsvInputError(f"line {line}: {names[index]} {text!r} {problem}") from None


def _number(value: str) -> float:
    """A finite number; an empty cell is not measured (NaN), never 0."""
    if not value:
        return math.nan
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and "_" not in value:
        return number
    raise _Problem("is not a number (leave it empty if not measured)")


def _parse_news2(name: str, value: str) -> float:
    if name == "scale":
        if value in ("", "1", "2"):
            return float(value or 1)
        raise _Problem("must be 1 or 2 (empty means 1)")
    if value and name == "on_oxygen":
        if value.lower() in _OXYGEN:
            return _OXYGEN[value.lower()]
        raise _Problem("must be true/false, yes/no or 1/0 (empty: unknown)")
    if value and name == "consciousness":
        if value.upper() in news2.CONSCIOUSNESS_CODES:
            return float(news2.CONSCIOUSNESS_CODES[value.upper()])
        raise _Problem("must be one of A, C, V, P, U (empty: not assessed)")
    return _number(value)


def _parse_npews(name: str, value: str) -> float:
    if name == "age_band":
        band = " ".join(value.replace("–", "-").lower().split())
        if band in _AGE_BANDS:
            return float(_AGE_BANDS[band])
        raise _Problem(f"must be one of {', '.join(npews.AGE_BANDS)} (every row needs an age)")
    if name == "age_months":
        if value.isascii() and value.isdigit():
            return float(age_band_of_months(int(value)))
        raise _Problem("must be the age in whole months, 0 or more (every row needs an age)")
    codes = {
        "resp_distress": (npews.RESP_DISTRESS_CODES, "not assessed"),
        "oxygen": (npews.OXYGEN_DEVICES, "not recorded"),
        "bp_not_obtained": ({k.lower(): v for k, v in npews.BP_NOT_OBTAINED.items()}, "a pressure or not recorded"),
    }
    if value and name in codes:
        vocabulary, empty = codes[name]
        key = value.lower().replace("-", "_").replace(" ", "_")
        if key in vocabulary:
            return float(vocabulary[key])
        choices = npews.BP_NOT_OBTAINED if name == "bp_not_obtained" else vocabulary
        raise _Problem(f"must be one of {', '.join(choices)} (empty: {empty})")
    return _number(value)


def _check_npews_row(row: dict[str, float], line: int) -> None:
    """The contradictions the scorer refuses, named by line."""
    air = npews.OXYGEN_DEVICES["air"]
    if row["oxygen"] == air and not (math.isnan(row["o2_percent"]) and math.isnan(row["o2_lpm"])):
        raise CsvInputError(f"line {line}: oxygen is air, but o2_percent or o2_lpm is given")
    if not math.isnan(row["sbp"]) and not math.isnan(row["bp_not_obtained"]):
        raise CsvInputError(f"line {line}: bp_not_obtained is given with a measured sbp")


_NEWS2 = _Format(required=INPUT_COLUMNS, optional=(), output=OUTPUT_COLUMNS, parse=_parse_news2)
_NPEWS = _Format(
    required=("age", *NPEWS_INPUT_COLUMNS), optional=NPEWS_OPTIONAL_COLUMNS, output=NPEWS_OUTPUT_COLUMNS,
    parse=_parse_npews,
)  # fmt: skip
