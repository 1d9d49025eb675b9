"""Class prototypes in the GSP-MC embedding space, and the scores built on them.

Conventions (all arrays float32, rows are vectors in the text encoder's space, dimension d):

- **clip prototype** of a class = the mean of its support clips' L2-normalised embeddings
  (:func:`mean_prototype`); the **text prototype** = the mean of its L2-normalised text embeddings
  (global and synonym descriptions).
- **combined prototype** = ``w * unit(text) + (1 - w) * unit(clips)`` (:func:`combine`), with the
  text weight ``w`` chosen on validation classes; a class with only one kind uses that one.
- a clip is scored against a prototype by cosine similarity (:func:`cosine`), so a prototype's
  length never matters.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def unit(v: np.ndarray, axis: int = -1) -> np.ndarray:
    """``v`` scaled to unit L2 norm along ``axis`` (a zero vector stays zero)."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=axis, keepdims=True)
    return (v / np.maximum(n, EPS)).astype(np.float32)


def mean_prototype(embeddings: np.ndarray) -> np.ndarray:
    """(n, d) embeddings -> (d,) mean of their L2-normalised rows (ValueError for n = 0)."""
    e = np.asarray(embeddings, dtype=np.float32)
    if e.ndim != 2 or e.shape[0] == 0:
        raise ValueError(f"expected (n >= 1, d) embeddings, got shape {e.shape}")
    return unit(e).astype(np.float64).mean(axis=0).astype(np.float32)  # (d,)


def combine(text: np.ndarray | None, clips: np.ndarray | None, text_weight: float) -> np.ndarray:
    """One class's prototype (d,) from its text and/or clip prototype: ``w unit(t) + (1 - w) unit(c)``.

    With only one of the two given, its unit vector is returned (``text_weight`` is then unused).
    """
    if text is None and clips is None:
        raise ValueError("a prototype needs a text or clips")
    if text is None:
        return unit(clips)
    if clips is None:
        return unit(text)
    if not 0.0 <= text_weight <= 1.0:
        raise ValueError(f"text weight must be in [0, 1], got {text_weight}")
    return (text_weight * unit(text).astype(np.float64)
            + (1.0 - text_weight) * unit(clips).astype(np.float64)).astype(np.float32)


def cosine(queries: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Cosine similarity of queries (N, d) to prototypes (J, d) -> (N, J)."""
    return (unit(queries).astype(np.float64) @ unit(prototypes).astype(np.float64).T).astype(np.float32)


def class_prototypes(embeddings: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(J, d) clip prototypes: row j = :func:`mean_prototype` of the rows whose label is ``classes[j]``."""
    return np.stack([mean_prototype(embeddings[labels == c]) for c in classes])


def open_set_scores(log_probs: np.ndarray, cos_new: np.ndarray, tau: float, bias: float) -> np.ndarray:
    """Scores of a recogniser with enrolled classes: ``[log p_cls (N, K), (cos - 1) / tau + bias (N, J)]``.

    The trained classifier's log-probabilities keep their order among the trained classes; an
    enrolled class j beats the classifier's top class c when ``cos_j > 1 + tau (log p_c - bias)``.
    ``bias`` (the seen-class calibration) is chosen on validation classes. The numpy twin of
    :meth:`gspmc.inference.heads.OpenVocabNet.forward`.
    """
    new = (np.asarray(cos_new, np.float64) - 1.0) / tau + bias  # (N, J)
    return np.concatenate([np.asarray(log_probs, np.float64), new], axis=1)
