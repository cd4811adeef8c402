"""``vward score``: a CSV round trip through the NEWS2 scorer, and refusals that name the line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerting.cli import score_command
from alerting.score_csv import NPEWS_OUTPUT_COLUMNS, OUTPUT_COLUMNS, CsvInputError, score_csv

HEADER = "id,rr,spo2,scale,on_oxygen,sbp,hr,consciousness,temp"
OK = "p1,16,97,1,false,120,70,A,37"
OUT_HEADER = HEADER + "," + ",".join(OUTPUT_COLUMNS)


def run(text: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(score_command, list(args or ["-"]), input=text)
    return result.exit_code, result.stdout, result.stderr


def test_round_trip_keeps_input_as_given_and_leaves_missing_sub_scores_empty(tmp_path: Path) -> None:
    source = tmp_path / "obs.csv"
    source.write_text(
        f"{HEADER}\n"
        "p1,16,97,,false,120,70,A,37.0\n"
        "p2,25,,2,,95,,C,38.05\n"
        "p3, 20.5 ,93,2,YES,219.5,130.5,u,39.05\n"
        "p4,,,,,,,,\n"
    )
    code, out, err = run("", str(source))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        OUT_HEADER,
        "p1,16,97,,false,120,70,A,37.0,0,0,0,0,0,0,0,0,low,true",
        "p2,25,,2,,95,,C,38.05,3,,,2,,3,1,9,high,false",
        "p3, 20.5 ,93,2,YES,219.5,130.5,u,39.05,2,1,2,3,3,3,2,16,high,true",
        "p4,,,,,,,,,,,,,,,,0,low,false",
    ]


def test_reads_stdin_and_accepts_any_column_order() -> None:
    code, out, _ = run('temp,hr,note,consciousness,sbp,on_oxygen,scale,spo2,rr\n38.1,91,"a, b",A,111,0,1,96,12')
    assert code == 0
    assert out.splitlines()[1] == '38.1,91,"a, b",A,111,0,1,96,12,0,0,0,0,1,0,1,2,low,true'


def test_oxygen_spellings_and_scale_2_without_oxygen_status() -> None:
    rows = ["97,2,true", "97,2,1", "97,2,No", "97,2,", "92,2,"]
    text = "spo2,scale,on_oxygen,rr,sbp,hr,consciousness,temp\n" + "".join(f"{r},,,,,\n" for r in rows)
    code, out, _ = run(text)
    assert code == 0
    assert [line.split(",")[9:12] for line in out.splitlines()[1:]] == [
        ["3", "2", ""], ["3", "2", ""], ["0", "0", ""], ["", "", ""], ["0", "", ""],
    ]  # fmt: skip


def test_header_only_gives_header_only() -> None:
    assert run(HEADER + "\n") == (0, OUT_HEADER + "\n", "")


def test_utf8_bom_on_the_header_is_ignored() -> None:
    code, out, _ = run("\ufeff" + HEADER + "\np1,16,97,1,false,120,70,A,37\n")
    assert code == 0
    assert out.splitlines()[0] == OUT_HEADER


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("rr,spo2,scale,sbp,hr,consciousness\n", "line 1: missing required column(s): on_oxygen, temp"),
        (HEADER + ",rr\n", "line 1: column(s) rr repeated"),
        (HEADER + ",total\n", "line 1: column(s) total repeated or would clash"),
        (f"{HEADER}\n{OK}\np2,abc,97,1,false,120,70,A,37\n", "line 3: rr 'abc' is not a number"),
        (f"{HEADER}\np1,16,97,3,false,120,70,A,37\n", "line 2: scale '3' must be 1 or 2"),
        (f"{HEADER}\np1,16,97,1,maybe,120,70,A,37\n", "line 2: on_oxygen 'maybe' must be"),
        (f"{HEADER}\np1,16,97,1,false,120,70,X,37\n", "line 2: consciousness 'X' must be one of A, C, V"),
        (f"{HEADER}\np1,16,97,1,false,120,70,A,nan\n", "line 2: temp 'nan' is not a number"),
        (f"{HEADER}\np1,16,97,1,false,inf,70,A,37\n", "line 2: sbp 'inf' is not a number"),
        (f"{HEADER}\np1,16,97,1,false,120,70,A\n", "line 2: 8 fields, but the header has 9"),
        (f"{HEADER}\n\np1,1_6,97,1,false,120,70,A,37\n", "line 3: rr '1_6' is not a number"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_line_and_writes_nothing(text: str, message: str) -> None:
    code, out, err = run(text)
    assert code == 2
    assert out == ""
    assert message in err


def test_score_csv_counts_sets_and_raises_its_own_error() -> None:
    sink = io.StringIO()
    assert score_csv(io.StringIO(f"{HEADER}\np1,16,97,1,false,120,70,A,37\n"), sink) == 1
    with pytest.raises(CsvInputError, match="line 2"):
        score_csv(io.StringIO(f"{HEADER}\np1,16,97,1,false,120,70,Q,37\n"), io.StringIO())


# --- NPEWS: an age column selects it ----------------------------------------------------------------

PEWS_HEADER = "id,age_band,rr,resp_distress,spo2,oxygen,o2_percent,o2_lpm,hr,sbp,bp_not_obtained,crt"
PEWS_OUT_HEADER = PEWS_HEADER + "," + ",".join(NPEWS_OUTPUT_COLUMNS)


def test_npews_round_trip_with_the_same_conventions_as_news2() -> None:
    code, out, err = run(
        f"{PEWS_HEADER}\n"
        "calm,1-4 years,30,none,98,air,,,110,90,,1\n"
        "infant,0-11 Months,72,,90,,,,185,,,\n"
        "worse,0–11 months,72,Severe,90,High flow,,,185,,U4,3\n"
        "mask,5-12 years,22,mild,93,oxygen,40,,100,,NCO,2.005\n"
        "nasal,13+ years,50,none,97,oxygen,,,85,,,\n"
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        PEWS_OUT_HEADER,
        "calm,1-4 years,30,none,98,air,,,110,90,,1,0,0,0,0,0,0,0,0,none,true",
        "infant,0-11 Months,72,,90,,,,185,,,,4,,4,,4,,,12,high,false",
        "worse,0–11 months,72,Severe,90,High flow,,,185,,U4,3,4,4,4,4,4,4,2,26,emergency,true",
        "mask,5-12 years,22,mild,93,oxygen,40,,100,,NCO,2.005,0,1,1,2,0,0,2,6,medium,true",
        "nasal,13+ years,50,none,97,oxygen,,,85,,,,4,0,0,1,0,,,5,medium,false",  # oxygen of unknown level: a floor
    ]


def test_npews_by_age_in_months_and_without_the_optional_columns() -> None:
    rows = ["11,50", "12,50", "59,50", "60,50", "155,50", "156,50"]
    text = "age_months,rr,resp_distress,spo2,oxygen,hr,sbp,crt\n" + "".join(f"{r},,,,,,\n" for r in rows)
    code, out, _ = run(text)
    assert code == 0
    assert out.splitlines()[0].endswith(",".join(NPEWS_OUTPUT_COLUMNS))
    assert [line.split(",")[8] for line in out.splitlines()[1:]] == ["1", "2", "2", "4", "4", "4"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("age_band,age_months,rr,resp_distress,spo2,oxygen,hr,sbp,crt\n", "line 1: give age_band or age_months"),
        ("age_band,rr,spo2,oxygen,hr,sbp\n", "line 1: missing required column(s): resp_distress, crt"),
        (PEWS_HEADER + ",level\n", "line 1: column(s) level repeated or would clash"),
        (f"{PEWS_HEADER}\np,2 years,30,,,,,,,,,\n", "line 2: age_band '2 years' must be one of 0-11 months"),
        (f"{PEWS_HEADER}\np,,30,,,,,,,,,\n", "line 2: age_band '' must be one of"),
        ("age_months,rr,resp_distress,spo2,oxygen,hr,sbp,crt\n-1,,,,,,,\n", "line 2: age_months '-1' must be"),
        ("age_months,rr,resp_distress,spo2,oxygen,hr,sbp,crt\n1.5,,,,,,,\n", "line 2: age_months '1.5' must be"),
        (f"{PEWS_HEADER}\np,1-4 years,30,some,,,,,,,,\n", "line 2: resp_distress 'some' must be one of none, mild"),
        (f"{PEWS_HEADER}\np,1-4 years,30,,,mask,,,,,,\n", "line 2: oxygen 'mask' must be one of air, oxygen"),
        (f"{PEWS_HEADER}\np,1-4 years,30,,,,,,,,U2,\n", "line 2: bp_not_obtained 'U2' must be one of NCO, U0, U4"),
        (f"{PEWS_HEADER}\np,1-4 years,30,,,,,,,,,2s\n", "line 2: crt '2s' is not a number"),
        (f"{PEWS_HEADER}\np,1-4 years,30,,,air,21,,,,,\n", "line 2: oxygen is air, but o2_percent or o2_lpm"),
        (f"{PEWS_HEADER}\np,1-4 years,30,,,,,,,90,NCO,\n", "line 2: bp_not_obtained is given with a measured sbp"),
    ],
)  # fmt: skip
def test_bad_npews_input_exits_2_naming_the_line_and_writes_nothing(text: str, message: str) -> None:
    code, out, err = run(text)
    assert (code, out) == (2, "")
    assert message in err
