"""``gspmc predict``: videos or keypoint files -> the top-k glosses with probabilities.

The model side (loading, input pipeline, fusion, ranking) is :class:`gspmc.inference.predictor.Predictor`;
this module runs it over files and formats the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from gspmc.errors import GspmcError
from gspmc.inference.predictor import Prediction, Predictor, load_keypoints
from gspmc.video.holistic import VIDEO_EXTENSIONS, HolisticRunner


def predict_files(predictor: Predictor, paths: Sequence[Path], k: int = 5,
                  progress: bool = False) -> tuple[list[Prediction], list[dict]]:
    """Predict every file; a bad file is reported in the error list and skipped."""
    results: list[Prediction] = []
    errors: list[dict] = []
    runner = None
    try:
        for path in tqdm(paths, disable=not progress or len(paths) < 2, desc="predict", unit="file"):
            try:
                if path.suffix.lower() in VIDEO_EXTENSIONS and runner is None:
                    runner = HolisticRunner()
                clip = load_keypoints(path, runner)
                results.append(predictor.predict_clip(clip, str(path), k))
            except GspmcError as err:
                errors.append({"input": str(path), "error": str(err)})
    finally:
        if runner is not None:
            runner.close()
    return results, errors


def format_table(predictions: Sequence[Prediction]) -> str:
    """Human-readable top-k table, one block per input."""
    lines: list[str] = []
    for pred in predictions:
        lines.append(f"{pred.input}  ({pred.frames} frames)")
        width = max(len(g) for g in pred.glosses)
        for rank, (gloss, prob) in enumerate(zip(pred.glosses, pred.probs, strict=True), start=1):
            lines.append(f"  {rank:>2}. {gloss:<{width}}  {prob:7.2%}")
    return "\n".join(lines)
