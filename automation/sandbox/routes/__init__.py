"""Graph route groups of the sandbox; each module has ``register(ctx)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from automation.sandbox.server import SandboxContext


def register_all(ctx: SandboxContext) -> None:
    """Register every route group."""
    from automation.sandbox.routes import (
        batch,
        calendar,
        drive,
        mail,
        planner,
        site_permissions,
        sites,
        users,
    )

    for module in (sites, site_permissions, drive, planner, users, mail, calendar, batch):
        module.register(ctx)
