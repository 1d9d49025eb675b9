"""gspmc.data: typed clips, dataset readers, evaluation protocols, the torch Dataset, `gspmc data`.

- `Sample`, `ClipSet` (gspmc.data.sample): one validated clip; the clips of a dataset.
- `load_dataset(name_or_path, **kw)` (gspmc.data.registry): every reader behind one call.
- `get_protocol(name)` (gspmc.data.protocols): train / val / test splits, e.g. ``traduttore-xsigner``.
- `SkeletonDataset` (gspmc.data.dataset, imports torch): clips -> model inputs.
- `gspmc data` (gspmc.data.fetch): fetch and pack the traduttore recordings.

Readers live in gspmc.data.readers (npz, mp_data, sam_slr, wholebody, posefile); all share one
repair policy for NaN/inf joints (gspmc.data.readers._common).
"""

from gspmc.data.protocols import Split, get_protocol, list_protocols
from gspmc.data.registry import load_dataset
from gspmc.data.sample import ClipSet, Sample

__all__ = ["ClipSet", "Sample", "Split", "get_protocol", "list_protocols", "load_dataset"]
