"""gspmc.describe (see docs/architecture.md)."""
