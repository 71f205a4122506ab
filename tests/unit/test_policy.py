"""Every cell of the access table in scribe/review/policy.py: role x relation x action x status, and inactive users."""

from __future__ import annotations

import pytest

from scribe.review.policy import ACTIONS, allowed, sees_patient
from scribe.rows import Consultation, ConsultationStatus, Role, User

OWNER, GRANTED, OTHER = 1, 2, 3
ALL = set(ACTIONS)
CLINICAL = {"note", "transcript", "record", "edit", "approve", "dispute", "export"}

# What each role may do, by its relation to the consultation (status DRAFTED, i.e. not yet approved).
EXPECTED_DRAFTED: dict[tuple[Role, str], set[str]] = {
    (Role.CLINICIAN, "owner"): ALL,
    (Role.CLINICIAN, "granted"): ALL - {"grant", "delete"},
    (Role.CLINICIAN, "other"): set(),
    (Role.ADMIN, "owner"): ALL,
    (Role.ADMIN, "granted"): {"view", "grant", "delete"} | CLINICAL,
    (Role.ADMIN, "other"): {"view", "grant", "delete"},
    (Role.INTEGRATOR, "owner"): set(),
    (Role.INTEGRATOR, "granted"): set(),
    (Role.INTEGRATOR, "other"): set(),
}
INTEGRATOR_APPROVED = {"view", "note", "export"}


def _user(role: Role, user_id: int, *, active: bool = True) -> User:
    return User(id=user_id, username=f"u{user_id}", full_name="Someone", role=role, active=active)


def _case(relation: str) -> tuple[int, list[int]]:
    """The user id for ``relation`` to a consultation owned by OWNER and granted to GRANTED."""
    return {"owner": OWNER, "granted": GRANTED, "other": OTHER}[relation], [GRANTED]


@pytest.mark.parametrize("status", list(ConsultationStatus))
@pytest.mark.parametrize("relation", ["owner", "granted", "other"])
@pytest.mark.parametrize("role", list(Role))
def test_every_cell(role: Role, relation: str, status: ConsultationStatus) -> None:
    user_id, granted = _case(relation)
    user = _user(role, user_id)
    consultation = Consultation(owner_id=OWNER, status=status)
    expected = set(EXPECTED_DRAFTED[(role, relation)])
    if role == Role.INTEGRATOR and status in (ConsultationStatus.APPROVED, ConsultationStatus.EXPORTED):
        expected = INTEGRATOR_APPROVED
    got = {action for action in ACTIONS if allowed(user, action, consultation, granted)}
    assert got == expected


@pytest.mark.parametrize("relation", ["owner", "granted", "other"])
@pytest.mark.parametrize("role", list(Role))
def test_inactive_users_may_do_nothing(role: Role, relation: str) -> None:
    user_id, granted = _case(relation)
    user = _user(role, user_id, active=False)
    for status in (ConsultationStatus.DRAFTED, ConsultationStatus.APPROVED):
        consultation = Consultation(owner_id=OWNER, status=status)
        assert not any(allowed(user, action, consultation, granted) for action in ACTIONS)


def test_integrators_never_read_transcripts_or_change_notes() -> None:
    integrator = _user(Role.INTEGRATOR, OWNER)
    for status in ConsultationStatus:
        consultation = Consultation(owner_id=OWNER, status=status)
        for action in ("transcript", "edit", "approve", "record", "dispute", "grant", "delete"):
            assert not allowed(integrator, action, consultation, [OWNER])


def test_admin_sees_metadata_but_not_patient_details_unless_granted() -> None:
    admin = _user(Role.ADMIN, OTHER)
    consultation = Consultation(owner_id=OWNER, status=ConsultationStatus.DRAFTED)
    assert allowed(admin, "view", consultation, [])
    assert not sees_patient(admin, consultation, [])
    assert sees_patient(admin, consultation, [OTHER])
    assert sees_patient(_user(Role.CLINICIAN, OWNER), consultation, [])
    assert not sees_patient(_user(Role.CLINICIAN, OTHER), consultation, [])


def test_unknown_action_is_an_error_not_a_silent_answer() -> None:
    with pytest.raises(ValueError, match="unknown action 'reed'"):
        allowed(_user(Role.CLINICIAN, OWNER), "reed", Consultation(owner_id=OWNER), [])
