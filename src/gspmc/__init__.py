"""gspmc: skeleton-based sign language recognition with GSP-MC (Liang et al., 2025).

Nothing happens at import: subpackages are imported on demand.
"""

__version__ = "0.1.0"
