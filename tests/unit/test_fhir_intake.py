"""FHIR in, the pure part: Observations decoded into the readings the MQTT contract carries, each bad entry
refused alone with the quarantine vocabulary, entries of one device and moment merged into one reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fhir_r4 import intake
from fhir_r4.errors import BadRequest
from tests.fhir_bundles import acvpu, air_or_oxygen, blood_pressure, bundle, quantity
from tests.fhir_checks import validate

T = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def decode(resource: dict[str, object]) -> intake.Accepted | intake.Refused:
    return intake.decode_entry(0, {"resource": resource})


def test_each_vital_decodes_to_its_reading_field() -> None:
    cases = [
        (quantity("a", "ox-1", T, "8867-4", 88, "/min"), {"hr": 88.0}),
        (quantity("b", "ox-1", T, "2708-6", 95, "%"), {"spo2": 95.0}),
        (quantity("c", "ox-1", T, "9279-1", 18, "/min"), {"rr": 18.0}),
        (quantity("d", "th-1", T, "8310-5", 37.2, "Cel"), {"temp": 37.2}),
        (blood_pressure("e", "bp-1", T, 128, 80), {"sbp": 128.0, "dbp": 80.0}),
        (air_or_oxygen("f", "ox-1", T, True), {"on_oxygen": True}),
        (acvpu("g", "ci-1", T, "300202002"), {"consciousness": "V"}),
    ]
    for resource, values in cases:
        validate(resource)  # what the tests post is itself valid FHIR
        got = decode(resource)
        assert isinstance(got, intake.Accepted), got
        assert got.values == values and got.measured_at == T
        assert got.identifier == ("https://vendor.example/obs", resource["identifier"][0]["value"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("resource", "reason", "words"),
    [
        (quantity("a", "ox-1", T, "8867-4", 88, "/s"), "wrong_type", "UCUM '/min'"),
        (quantity("a", "ox-1", T, "2708-6", 101, "%"), "impossible_value", "spo2"),
        (blood_pressure("a", "bp-1", T, 80, 90), "impossible_value", "diastolic"),
        (quantity("a", "ox-1", T, "1104051000000101", 5, "{ScoreOf}"), "wrong_type", "NEWS2"),
        ({**quantity("a", "ox-1", T, "8867-4", 88, "/min"), "identifier": []}, "missing_field", "identifier"),
        ({**quantity("a", "ox-1", T, "8867-4", 88, "/min"), "device": {}}, "missing_field", "device"),
        ({**quantity("a", "ox-1", T, "8867-4", 88, "/min"), "status": "preliminary"}, "wrong_type", "status"),
        (
            {**quantity("a", "ox-1", T, "8867-4", 88, "/min"), "effectiveDateTime": "2026-11-20T08:00"},
            "wrong_type",
            "zone",
        ),
        ({"resourceType": "Patient"}, "wrong_type", "Observations"),
    ],
)
def test_a_bad_entry_is_refused_with_its_reason(resource: dict[str, object], reason: str, words: str) -> None:
    got = decode(resource)
    assert isinstance(got, intake.Refused) and got.reason == reason and words in got.detail, got
    assert got.raw  # kept raw for the quarantine


def test_one_device_one_moment_is_one_reading_and_a_second_value_is_refused() -> None:
    entries = [
        decode(quantity("a", "ox-1", T, "8867-4", 88, "/min")),
        decode(quantity("b", "ox-1", T, "2708-6", 95, "%")),
        decode(quantity("c", "ox-1", T + timedelta(minutes=1), "8867-4", 90, "/min")),
        decode(quantity("d", "ox-1", T, "8867-4", 99, "/min")),
    ]
    accepted = [e for e in entries if isinstance(e, intake.Accepted)]
    groups, refused = intake.merge(accepted)
    assert [(g.device_id, g.reading.hr, g.reading.spo2, len(g.entries)) for g in groups] == [
        ("ox-1", 88.0, 95.0, 2),
        ("ox-1", 90.0, None, 1),
    ]
    assert [(r.identifier, r.reason) for r in refused] == [(("https://vendor.example/obs", "d"), "impossible_value")]


def test_only_batch_or_transaction_bundles_and_a_response_per_entry() -> None:
    for body in ({"resourceType": "Observation"}, {**bundle(), "type": "collection"}, bundle()):
        with pytest.raises(BadRequest):
            intake.bundle_entries(body)
    assert intake.bundle_entries(bundle(air_or_oxygen("a", "ox-1", T, False), kind="transaction"))[0] == "transaction"
    response = intake.response_bundle(
        "batch",
        [
            intake.EntryResult(1, "refused", "impossible_value", "spo2: too high"),
            intake.EntryResult(0, "stored"),
            intake.EntryResult(2, "duplicate"),
        ],
    )
    validate(response)
    assert response["type"] == "batch-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created", "422 Unprocessable Entity", "200 OK"]
    assert response["entry"][1]["response"]["outcome"]["issue"][0]["diagnostics"] == "impossible_value: spo2: too high"


def test_entries_naming_a_device_the_client_is_not_bound_to_are_forbidden_in_their_own_entry() -> None:
    decoded = [
        intake.decode_entry(0, {"resource": quantity("f-1", "ox-mine", T, "8867-4", 80, "/min")}),
        intake.decode_entry(1, {"resource": quantity("f-2", "ox-other", T, "8867-4", 80, "/min")}),
        intake.decode_entry(2, {"resource": quantity("f-3", "ox-other", T, "8867-4", 999, "/min")}),  # bad, too
        intake.decode_entry(3, {"resource": {"resourceType": "Observation"}}),  # names no device: quarantined
    ]
    kept, forbidden = intake.split_by_device(decoded, {"ox-mine"})
    assert [d.index for d in kept] == [0, 3] and [d.index for d in forbidden] == [1, 2]
    response = intake.response_bundle(
        "batch", [intake.EntryResult(1, "forbidden", "forbidden_device", "this client is not bound to ox-other")]
    )
    validate(response)
    entry = response["entry"][0]["response"]
    assert entry["status"] == "403 Forbidden" and entry["outcome"]["issue"][0]["code"] == "forbidden"
