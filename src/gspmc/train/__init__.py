"""gspmc.train (see docs/architecture.md)."""
