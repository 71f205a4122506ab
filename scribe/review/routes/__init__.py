"""The app's routers, one module per area; each exposes ``router = APIRouter()``."""

from __future__ import annotations

import importlib
import logging

from fastapi import APIRouter

logger = logging.getLogger(__name__)

ROUTE_MODULES = ("auth", "admin", "consultations", "review", "export")


def routers() -> list[APIRouter]:
    """The routers of every area, in :data:`ROUTE_MODULES` order; an area not written yet is skipped with a warning."""
    found: list[APIRouter] = []
    for name in ROUTE_MODULES:
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            logger.warning("review app: %s is not available; its pages are missing", module_name)
            continue
        found.append(module.router)
    return found
