"""gspmc.models (see docs/architecture.md)."""
