"""gspmc.text (see docs/architecture.md)."""
