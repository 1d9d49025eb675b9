"""gspmc.inference: a trained model at work, with no Lightning (see docs/architecture.md).

- :mod:`~gspmc.inference.checkpoint`: read a checkpoint -> :class:`Recognizer` (+ its open-vocabulary head)
- :mod:`~gspmc.inference.heads`, :mod:`~gspmc.inference.enrolled`, :mod:`~gspmc.inference.prototypes`:
  the GSP-MC embedding path and enrolled classes
- :mod:`~gspmc.inference.runners`: exported ONNX / TorchScript files, ``load_scorer`` by file type
- :mod:`~gspmc.inference.scores`: softmax, fusion, ranking; :mod:`~gspmc.inference.metrics`: accuracy
- :mod:`~gspmc.inference.classes`: a model's class list against labelled data
- :mod:`~gspmc.inference.predictor`: one clip (keypoints) -> fused probabilities
"""
