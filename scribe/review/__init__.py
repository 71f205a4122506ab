"""The clinician review web app: sign in, record, review, correct, approve and export (`scribe serve`)."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # create_app pulls in FastAPI and the store; import it only when asked for.
    if name == "create_app":
        from scribe.review.app import create_app

        return create_app
    raise AttributeError(name)
