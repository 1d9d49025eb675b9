"""gspmc.losses (see docs/architecture.md)."""
