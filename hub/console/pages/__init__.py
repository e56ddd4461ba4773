"""The console's pages, a module for each area; each module's `ROUTES` are its pages."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    from hub.console.pages import audit, entities, quality, quarantine, review, search

    return [
        *review.ROUTES,
        *entities.ROUTES,
        *search.ROUTES,
        *audit.ROUTES,
        *quarantine.ROUTES,
        *quality.ROUTES,
    ]
