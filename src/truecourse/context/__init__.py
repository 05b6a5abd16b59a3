"""Context around telemetry: change events (deploys, config changes) and, later, topology,
ownership, runbooks and incident history."""

from truecourse.context.changes import DeployWindows, recent_changes

__all__ = ["DeployWindows", "recent_changes"]
