"""gspmc.video (see docs/architecture.md)."""
