"""gspmc.pose (see docs/architecture.md)."""
