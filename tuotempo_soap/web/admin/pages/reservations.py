"""Reservations of one instance: the search, and a reservation's page.

Searches are POST forms (the patient's phone or address must never be in a
URL); the next page is one more POST carrying the same terms and the keyset
cursor. A reservation's page shows patient data masked; the "show" button
POSTs to ``reveal``, which answers the same page unmasked (nothing kept: the
next visit is masked again) and writes the request to the audit log.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....domain.reservation import PatientAnswer, Status
from ....errors import NotFoundError
from ....services import audit, search, timelines
from ....services.instances import Instance
from .. import forms
from ..app import AdminRequest
from ..routing import pages

# The search form's fields: (form name, label key).
FORM = (
    ("app_lid", "res.app_lid"),
    ("date_from", "res.date_from"),
    ("date_to", "res.date_to"),
    ("resource_lid", "res.resource"),
    ("status", "res.status"),
    ("patient_answer", "res.answer"),
    ("patient", "res.recipient"),
)
STATUSES = tuple(s.value for s in Status)
ANSWERS = (*(a.value for a in PatientAnswer), search.NO_ANSWER)

# How each patient field of the guide is masked on a reservation's page.
PATIENT_FIELDS = {
    "USER_FIRST_NAME": "name",
    "USER_SECOND_NAME": "name",
    "USER_THIRD_NAME": "name",
    "USER_ID_NUMBER": "text",
    "USER_MOBILE_PHONE": "phone",
    "USER_LANDLINE_PHONE": "phone",
    "USER_WORK_PHONE": "phone",
    "USER_EMAIL": "email",
    "USER_DATE_OF_BIRTH": "text",
    "USER_ZIP_CODE": "text",
    "NOTES": "text",
}
# The rest, grouped as the page shows them.
APPOINTMENT_FIELDS = (
    "APP_LID",
    "APP_TID",
    "APP_DATE",
    "APP_START_TIME",
    "APP_END_TIME",
    "RESOURCE_LID",
    "RESOURCE_NAME",
    "ACTIVITY_LID",
    "INSURANCE_LID",
    "LOCATION_LID",
    "LOCATION_NAME",
    "APP_OWNER_LID",
    "APP_OWNER_TID",
    "APP_OWNER_NAME",
    "STATUS",
)
PATIENT_ORDER = (
    "USER_LID",
    "USER_TID",
    "USER_FIRST_NAME",
    "USER_SECOND_NAME",
    "USER_THIRD_NAME",
    "USER_ID_NUMBER",
    "USER_MOBILE_PHONE",
    "USER_LANDLINE_PHONE",
    "USER_WORK_PHONE",
    "USER_EMAIL",
    "USER_DATE_OF_BIRTH",
    "USER_GENDER",
    "USER_ZIP_CODE",
    "USER_LANGUAGE",
    "PRIVACY",
    "COMMUNICATION_PREFERENCES",
    "NOTES",
)


@pages.page("/<instance:instance>/reservations", methods=("GET", "POST"))
def reservations(req: AdminRequest, instance: Instance) -> Response:
    def find(terms: dict[str, str], before: int | None) -> search.Page[search.ReservationHit]:
        filters = search.ReservationFilter(
            app_lid=terms.get("app_lid"),
            date_from=forms.day(req, terms, "date_from", "res.date_from"),
            date_to=forms.day(req, terms, "date_to", "res.date_to"),
            resource_lid=terms.get("resource_lid"),
            status=terms.get("status"),
            patient_answer=terms.get("patient_answer"),
            patient=terms.get("patient"),
        )
        return search.search_reservations(
            req.store, instance, filters, limit=forms.PAGE_SIZE, before_id=before
        )

    return forms.search_page(
        req,
        "reservations.html",
        (name for name, _ in FORM),
        find,
        statuses=STATUSES,
        answers=ANSWERS,
    )


def _detail(
    req: AdminRequest, instance: Instance, reservation_id: int, *, revealed: bool
) -> Response:
    try:
        detail = timelines.reservation_detail(req.store, instance, reservation_id)
    except NotFoundError:
        raise NotFound() from None
    return req.render(
        "reservation.html",
        detail=detail,
        revealed=revealed,
        appointment_fields=APPOINTMENT_FIELDS,
        patient_order=PATIENT_ORDER,
        patient_fields=PATIENT_FIELDS,
    )


@pages.page("/<instance:instance>/reservations/<int:reservation_id>")
def reservation(req: AdminRequest, instance: Instance, reservation_id: int) -> Response:
    return _detail(req, instance, reservation_id, revealed=False)


@pages.page("/<instance:instance>/reservations/<int:reservation_id>/reveal", methods=("POST",))
def reservation_reveal(req: AdminRequest, instance: Instance, reservation_id: int) -> Response:
    response = _detail(req, instance, reservation_id, revealed=True)
    audit.patient_data_shown(
        req.store, req.actor, instance, audit.TargetKind.RESERVATION, reservation_id, now=req.now
    )
    return response
