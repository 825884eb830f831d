"""Settings: the table (data) and the store (config.json, snapshots)."""
from modules.options.store import Options, Snapshot
from modules.options.table import SETTINGS, Setting

__all__ = ["Options", "Snapshot", "SETTINGS", "Setting"]
