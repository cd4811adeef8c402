"""Hospital admissions recorded by hand: a coordinator of the patient's ward records, on a discharged stay,
that the patient was later admitted to hospital (the day, the hospital, the reason). Hospital systems post the
same facts as FHIR Encounters; both go through ``fhir_r4.hospital_admissions.record`` (audited) and feed the
outcomes report's hospital readmissions. Roles: coordinators of the stay's ward."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator

from clinician_ui.deps import Conn, Coordinator, wants_html
from clinician_ui.errors import BadInput, Conflict, NotFound
from clinician_ui.routing import make_router
from clinician_ui.schemas import Day, StrictIn
from clinician_ui.security import User
from clinician_ui.templating import render
from fhir_r4 import hospital_admissions
from fhir_r4.encounter_in import MAX_HOSPITAL, MAX_REASON, HospitalAdmission
from fhir_r4.errors import Unprocessable
from vward.vocabulary import ENCOUNTER_CLASS_WORDS, EncounterClass

router = make_router("hospital admissions")


class HospitalAdmissionIn(StrictIn):
    admitted_on: Day
    hospital: Annotated[str, Field(min_length=1, max_length=MAX_HOSPITAL)]
    reason: Annotated[str, Field(max_length=MAX_REASON)] = ""
    encounter_class: EncounterClass = "IMP"

    @field_validator("hospital", "reason")
    @classmethod
    def _trimmed(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("must not contain a NUL character")
        return v.strip()


class HospitalAdmissionOut(BaseModel):
    id: int
    patient_id: int
    admitted_on: date
    hospital: str


def _discharged_stay(conn: Conn, admission_id: int, user: User) -> dict[str, Any]:
    row = conn.execute(
        "SELECT a.id, a.patient_id, a.discharged_at, a.discharge_outcome, p.given_name, p.family_name,"
        " p.nhs_number FROM admissions a JOIN patients p ON p.id = a.patient_id"
        " WHERE a.id = %s AND a.ward_id = ANY(%s)",
        (admission_id, user.ward_ids),
    ).fetchone()
    if row is None:
        raise NotFound(f"no admission {admission_id} on your wards")
    keys = ("id", "patient_id", "discharged_at", "discharge_outcome", "given_name", "family_name", "nhs_number")
    stay = dict(zip(keys, row, strict=True))
    if stay["discharged_at"] is None:
        raise Conflict("the patient is still on the virtual ward: record a hospital admission after discharge")
    return stay


@router.get("/patients/{admission_id}/hospital-admissions", include_in_schema=False)
def hospital_admissions_page(admission_id: int, request: Request, conn: Conn, user: Coordinator) -> Response:
    stay = _discharged_stay(conn, admission_id, user)
    records = hospital_admissions.of_patient(conn, stay["patient_id"])
    context = {"stay": stay, "records": records, "class_words": ENCOUNTER_CLASS_WORDS}
    return render(request, "hospital_admissions.html", context)


@router.post("/api/admissions/{admission_id}/hospital-admissions", status_code=201, response_model=HospitalAdmissionOut)
def record_hospital_admission(
    admission_id: int, request: Request, body: HospitalAdmissionIn, conn: Conn, user: Coordinator
) -> Response:
    """Records that the patient of this discharged stay was admitted to hospital (audited)."""
    if not body.hospital:
        raise BadInput("hospital: name the hospital")
    stay = _discharged_stay(conn, admission_id, user)
    admission = HospitalAdmission(
        admitted_on=body.admitted_on,
        admitted_at=None,
        encounter_class=body.encounter_class,
        hospital=body.hospital,
        reason=body.reason or None,
    )
    try:
        row_id, _ = hospital_admissions.record(
            conn, patient_id=stay["patient_id"], admission=admission, now=datetime.now(UTC), actor_id=user.id
        )
    except Unprocessable as exc:
        raise BadInput(str(exc)) from exc
    if wants_html(request):
        return RedirectResponse(f"/patients/{admission_id}/hospital-admissions", status_code=303)
    out = HospitalAdmissionOut(
        id=row_id, patient_id=stay["patient_id"], admitted_on=body.admitted_on, hospital=body.hospital
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201)
