"""The app's routers, one module per area; each exposes ``router = APIRouter()``."""

from __future__ import annotations

from fastapi import APIRouter

from scribe.review.routes import admin, auth, consultations, export, review


def routers() -> list[APIRouter]:
    """The routers of every area: sign-in, admin, consultations, review, export."""
    return [auth.router, admin.router, consultations.router, review.router, export.router]
