"""gspmc.pose: keypoint layouts and everything done to skeletons before the model (numpy only).

- :mod:`gspmc.pose.layouts`: the one layout registry (joints by canonical name, trees, parts,
  mirror maps), name-based conversion, MP_Data vector splitting.
- :mod:`gspmc.pose.graph`: CTR-GCN's three adjacency partitions from a layout's tree.
- :mod:`gspmc.pose.transforms`: ``InputConfig`` / ``AugmentConfig`` and ``make_input`` (clip ->
  ``(C, T, V)`` model input).
- :mod:`gspmc.pose.streams`: joint, bone, joint motion, bone motion.

See docs/architecture.md (section pose) and docs/layouts.md. Importing this package loads nothing.
"""
