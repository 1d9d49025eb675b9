"""gspmc.apps: what a user runs on a trained model: predict, export, live (see docs/architecture.md)."""
