"""Dataset readers: each returns a `ClipSet` (or a `Sample`) and raises `DataError(path, problem)`.

npz (packed MP_Data, traduttore), mp_data (MP_Data folder trees), sam_slr (SAM-SLR arrays),
wholebody (per-video COCO-WholeBody .npy, AUTSL, SLR500), posefile (pose-format holistic .pose),
gislr (Kaggle asl-signs parquet files, packed into a cache).
"""
