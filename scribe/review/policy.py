"""Who may do what to a consultation: one pure function over the user, the action and the record.

Rules (every cell is unit-tested in tests/unit/test_policy.py):

- Inactive users may do nothing.
- Clinicians may do everything on consultations they own or were granted, except that only the
  owner may grant access to others or delete the consultation; nothing on anyone else's.
- Integrators may 'view', read the 'note' and 'export' it once it is approved (status APPROVED or
  EXPORTED); never the transcript or audio, never edit or approve, never record.
- Admins may 'view' (metadata only: status, dates, owner; pages hide patient details from this
  right alone), 'grant' and 'delete' any consultation; clinical content only when granted, and
  then as a granted clinician.
"""

from __future__ import annotations

from scribe.rows import Consultation, ConsultationStatus, Role, User

ACTIONS: frozenset[str] = frozenset(
    {"view", "note", "transcript", "record", "edit", "approve", "dispute", "export", "grant", "delete"}
)
"""'view': see it in the list and open it; 'note': read the note and letters (and patient details);
'transcript': the transcript and audio; 'record': record or upload; 'edit', 'approve', 'dispute',
'export', 'grant' (let another user see it), 'delete'."""

OWNER_ONLY: frozenset[str] = frozenset({"grant", "delete"})
INTEGRATOR_ACTIONS: frozenset[str] = frozenset({"view", "note", "export"})
ADMIN_ACTIONS: frozenset[str] = frozenset({"view", "grant", "delete"})
EXPORTABLE: frozenset[ConsultationStatus] = frozenset({ConsultationStatus.APPROVED, ConsultationStatus.EXPORTED})


def allowed(user: User, action: str, consultation: Consultation, granted: list[int]) -> bool:
    """Whether ``user`` may do ``action`` on ``consultation``; ``granted`` lists the user ids granted access.

    Raises ValueError for an action this module does not know, so a typo cannot silently deny or allow.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(sorted(ACTIONS))}")
    if not user.active:
        return False
    owner = user.id == consultation.owner_id
    involved = owner or user.id in granted
    if user.role == Role.INTEGRATOR:
        return action in INTEGRATOR_ACTIONS and consultation.status in EXPORTABLE
    if user.role == Role.ADMIN and action in ADMIN_ACTIONS:
        return True
    if user.role in (Role.CLINICIAN, Role.ADMIN) and involved:
        return owner or action not in OWNER_ONLY
    return False


def sees_patient(user: User, consultation: Consultation, granted: list[int]) -> bool:
    """Whether pages may show this consultation's patient details (name, NHS number, reason) to ``user``."""
    return allowed(user, "note", consultation, granted)
