"""gspmc.data (see docs/architecture.md)."""
