"""Sign spotting: an isolated-sign recogniser turned into a stream of segments (docs/transcribe.md).

Per frame, keypoints enter a window of the model's length W (:class:`WindowScorer`, a bounded deque).
Every ``stride`` frames the window ending at frame t (frames ``[t - W + 1, t]``) is scored by the
:class:`~gspmc.inference.predictor.Predictor` (fused class probabilities) and described by two cues of
the hands (:func:`window_cues`): *activity*, the mean frame-to-frame motion of the wrists and hand
joints in shoulder widths per frame, and *presence*, the fraction of frames with a hand seen.

:class:`Spotter` turns these window scores into segments, streaming, with bounded state:

1. temporal smoothing: the moving average of the last ``smooth`` probability vectors;
2. the window's label is the most probable sign class c (the idle class ``-`` left out, where the model
   has one) when the window is a sign, 1 - p(idle) >= ``sign_min``, and p(c | a sign) =
   p(c) / (1 - p(idle)) >= ``on``, activity >= ``min_activity`` and
   presence >= ``min_presence`` (and a hand is seen in at least one frame) and the hands moved at least
   ``min_recent`` over the window's last frames (a held final pose is not a new sign); else background;
3. runs of one label make a sign (segment merging): up to ``max_gap`` background windows inside a run
   are tolerated, another class must hold ``switch`` windows to end the run (hysteresis: a one-window
   flicker does not split a sign); a run of fewer than ``min_windows`` windows is dropped (non-maximum
   suppression in time: one segment per run), and so is a run of the class just emitted that starts
   less than ``merge_gap`` frames after that segment's end (the same sign, seen again); with
   ``nms_iou`` > 0, of two overlapping segments of different glosses only the one with the larger run
   mass (sum of its class probability) is kept: a segment is then held until the next run ends or
   nothing can overlap it any more (more delay: the mode for files, not for live);
4. the segment's centre is the mean of the run's window centres weighted by probability^4 (the best
   aligned windows dominate) plus ``shift`` (a window stays confident while the sign is still inside
   it, so runs outlast signs: the offset is chosen on validation streams), its length ``length``
   frames (default W); it is emitted once, when the run ends, at the frame then current (the
   emission delay).

At the end of the input a run still active is emitted with ``partial=True`` (cut mid-sign).
Thresholds are chosen on streams composed from validation clips (:mod:`gspmc.apps.streams`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from gspmc.apps.segments import Segment, temporal_iou
from gspmc.errors import ConfigError
from gspmc.inference.predictor import Predictor, model_input
from gspmc.inference.scores import fuse
from gspmc.pose.layouts import get_layout

IDLE_CLASS = "-"


@dataclass(frozen=True)
class SpotConfig:
    smooth: int = 5              # windows in the moving average of the probabilities
    on: float = 0.5              # smoothed probability a window's class needs, among the sign classes
    sign_min: float = 0.5        # 1 - p(idle) a window needs to be a sign (models with an idle class)
    min_windows: int = 3         # shortest run that makes a sign (windows)
    max_gap: int = 2             # background windows tolerated inside a run
    switch: int = 3              # windows another class must hold to end a run
    min_activity: float = 0.0    # mean hand motion (shoulder widths / frame) a window needs
    min_presence: float = 0.0    # fraction of frames with a hand seen a window needs
    min_recent: float = 0.0      # hand motion over the window's last RECENT frames a window needs (holds)
    merge_gap: int = 0           # a run of the class just emitted starting < this many frames after its end
                                 # is the same sign (suppressed)
    length: int | None = None    # segment length in frames (None: the model window)
    shift: float = 0.0           # frames added to the segment centre (runs outlast a sign: chosen on validation)
    nms_iou: float = 0.0         # > 0: of two overlapping signs (IoU >= this) keep the one with more evidence;
                                 # a sign then waits for its successor (more delay; for files, not live)
    stride: int = 1              # score a window every N frames

    def to_json(self) -> dict:
        return dict(self.__dict__)


# The shipped operating points: chosen on validation streams of the TheCamNelson fold with the default
# recipe (bench/transcribe_eval.py, docs/transcribe.md). LIVE: best F1 with mean delay <= 15 frames;
# FILES: best F1 at any delay (NMS holds a sign until its successor is known).
LIVE_SPOT = SpotConfig(smooth=1, on=0.7, sign_min=0.5, min_windows=3, max_gap=1, switch=2, min_activity=0.01,
                       merge_gap=15, nms_iou=0.0, stride=2)
FILES_SPOT = SpotConfig(smooth=1, on=0.4, sign_min=0.35, min_windows=2, max_gap=1, switch=2, min_activity=0.02,
                        merge_gap=10, nms_iou=0.01, stride=2)
DEFAULT_SPOT = FILES_SPOT


# --- hand cues ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HandJoints:
    """Indices of one layout's joints that the cues use."""

    moving: np.ndarray    # wrists + hand joints
    hands: np.ndarray     # hand joints only
    shoulders: tuple[int, int] | None

    @classmethod
    def of(cls, layout: str) -> HandJoints:
        lay = get_layout(layout)
        parts = lay.part_indices()
        hands = np.concatenate([parts[p] for p in ("left_hand", "right_hand") if p in parts]).astype(int)
        wrists = [lay.index(n) for n in ("left_wrist", "right_wrist") if lay.has(n)]
        moving = np.unique(np.concatenate([hands, np.array(wrists, int)]))
        sh = (lay.index("left_shoulder"), lay.index("right_shoulder")) if lay.has("left_shoulder") and \
            lay.has("right_shoulder") else None
        return cls(moving, hands, sh)


RECENT = 6  # frames at the end of a window whose hand motion tells a held pose from signing


def window_cues(coords: np.ndarray, mask: np.ndarray, joints: HandJoints) -> tuple[float, float, float]:
    """(activity, presence, recent activity) of one window: coords (W, V, D), mask (W, V): mean hand motion
    over the window and over its last RECENT frames, in shoulder widths per frame (module docstring)."""
    presence = float(mask[:, joints.hands].any(1).mean()) if len(joints.hands) else 0.0
    scale = 1.0
    if joints.shoulders is not None:
        a, b = joints.shoulders
        seen = mask[:, a] & mask[:, b]  # (W,)
        if seen.any():
            scale = float(np.median(np.linalg.norm(coords[seen, a, :2] - coords[seen, b, :2], axis=-1)))
            scale = scale if scale > 1e-6 else 1.0
    c = coords[:, joints.moving, :2]  # (W, J, 2)
    m = mask[:, joints.moving]  # (W, J)
    both = m[1:] & m[:-1]  # (W-1, J)
    if not both.any():
        return 0.0, presence, 0.0
    step = np.linalg.norm(c[1:] - c[:-1], axis=-1)  # (W-1, J)
    tail = both[-RECENT:]
    recent = float(step[-RECENT:][tail].mean() / scale) if tail.any() else 0.0
    return float(step[both].mean() / scale), presence, recent


# --- window scores --------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowScore:
    t: int                 # the window's last frame
    probs: np.ndarray      # (K,) fused class probabilities
    activity: float
    presence: float
    observed: bool         # anything seen in the window
    recent: float = 0.0    # hand motion over the window's last RECENT frames


class WindowScorer:
    """Bounded sliding window over frames -> a :class:`WindowScore` every ``stride`` frames."""

    def __init__(self, predictor: Predictor, layout: str, window: int | None = None, stride: int = 1) -> None:
        if stride < 1:
            raise ConfigError(f"stride must be >= 1, got {stride}")
        self.predictor = predictor
        self.layout = layout
        self.size = int(window or predictor.scorers[0].input_cfg.window)
        self.stride = stride
        self.joints = HandJoints.of(layout)
        self._frames: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=self.size)
        self.t = -1

    def push(self, coords: np.ndarray, mask: np.ndarray, score: np.ndarray | None = None) -> WindowScore | None:
        """One frame: coords (V, D), mask (V,), detector score (V,) (default: the mask)."""
        self.t += 1
        score = mask.astype(np.float32) if score is None else score
        self._frames.append((coords, mask, score))
        if len(self._frames) == self.size and (self.t + 1 - self.size) % self.stride == 0:
            return self.score_held()
        return None

    def score_held(self) -> WindowScore:
        """Score the frames held now (fewer than the window at the very start of a short input)."""
        c, m, s = (np.stack(x) for x in zip(*self._frames, strict=True))  # (w, V, D), (w, V), (w, V)
        activity, presence, recent = window_cues(c, m, self.joints)
        if not m.any():
            probs = np.zeros(len(self.predictor.classes))
            return WindowScore(self.t, probs, activity, presence, False, recent)
        probs = self.predictor.probabilities(c, m, self.layout, score=s)
        return WindowScore(self.t, probs, activity, presence, True, recent)


def window_scores(predictor: Predictor, coords: np.ndarray, mask: np.ndarray, layout: str,
                  window: int | None = None, stride: int = 1, batch: int = 128) -> list[WindowScore]:
    """All window scores of a whole clip, batched (the offline path of evaluation; the same windows,
    probabilities and cues as :class:`WindowScorer` fed frame by frame)."""
    size = int(window or predictor.scorers[0].input_cfg.window)
    joints = HandJoints.of(layout)
    ends = list(range(size - 1, coords.shape[0], stride))
    out: list[WindowScore] = []
    for b0 in range(0, len(ends), batch):
        chunk = ends[b0:b0 + batch]
        per_model = []
        for scorer in predictor.scorers:
            x = np.stack([model_input(coords[t - size + 1:t + 1], mask[t - size + 1:t + 1], layout,
                                      scorer.input_cfg, mask[t - size + 1:t + 1].astype(np.float32))
                          for t in chunk])  # (B, C, T, V)
            per_model.append(scorer.logits(x))  # (B, K)
        probs = fuse(per_model, predictor.weights)  # (B, K)
        for i, t in enumerate(chunk):
            m = mask[t - size + 1:t + 1]
            act, pres, recent = window_cues(coords[t - size + 1:t + 1], m, joints)
            seen = bool(m.any())
            out.append(WindowScore(t, probs[i] if seen else np.zeros(probs.shape[1]), act, pres, seen, recent))
    return out


# --- the spotter ----------------------------------------------------------------------------------
@dataclass
class _Run:
    cls: int
    n: int = 0
    peak: float = 0.0
    last: int = -1
    sw: float = 0.0
    swc: float = 0.0
    mass: float = 0.0  # sum of the class probability over the run: the evidence NMS compares

    def add(self, t: int, s: float, centre: float) -> None:
        w = s**4
        self.mass += s
        self.n += 1
        self.peak = max(self.peak, s)
        self.last = t
        self.sw += w
        self.swc += w * centre


@dataclass
class Spotter:
    """Window scores -> segments, streaming (module docstring). State is O(smooth), not O(input)."""

    classes: Sequence[str]
    window: int
    cfg: SpotConfig = field(default_factory=SpotConfig)

    def __post_init__(self) -> None:
        self.idle = list(self.classes).index(IDLE_CLASS) if IDLE_CLASS in self.classes else -1
        self.length = int(self.cfg.length or self.window)
        self._probs: deque[tuple[int, np.ndarray]] = deque(maxlen=max(1, self.cfg.smooth))
        self._run: _Run | None = None
        self._cand: _Run | None = None
        self._miss = 0
        self.last_t = -1
        self._last: Segment | None = None  # the last segment emitted (same-sign suppression)
        self._pending: tuple[Segment, float] | None = None  # nms_iou > 0: the sign waiting for its successor

    def _segment(self, run: _Run, emitted: int, partial: bool = False) -> Segment:
        centre = (run.swc / run.sw if run.sw > 0 else run.last - (self.window - 1) / 2) + self.cfg.shift
        start = max(0, int(np.floor(centre - (self.length - 1) / 2 + 0.5 + 1e-6)))  # half up, float-safe
        end = start + self.length
        if partial:
            end = min(end, emitted + 1)
        return Segment(start, end, self.classes[run.cls], float(run.peak), emitted, partial)

    def _close(self, t: int) -> list[Segment]:
        run, self._run, self._miss = self._run, None, 0
        if run is None or run.n < self.cfg.min_windows:
            return []
        return self._offer(self._segment(run, t), run.mass, t)

    def _offer(self, seg: Segment, mass: float, t: int) -> list[Segment]:
        """A finished run's segment -> what to emit now (same-sign suppression, then NMS)."""
        prev = self._pending[0] if self._pending is not None else self._last
        if prev is not None and prev.gloss == seg.gloss and seg.start < prev.end + self.cfg.merge_gap:
            return []  # the same sign again (e.g. its final pose held): suppressed
        if self.cfg.nms_iou <= 0:
            self._last = seg
            return [seg]
        out: list[Segment] = []
        if self._pending is not None:
            held, held_mass = self._pending
            if temporal_iou(held, seg) >= self.cfg.nms_iou:
                if held_mass >= mass:
                    return []  # the waiting sign has more evidence: the new one is dropped
                self._pending = (seg, mass)  # the new one wins; the waiting one is dropped
                return []
            out = self._release(t)
        self._pending = (seg, mass)
        return out

    def _release(self, t: int) -> list[Segment]:
        if self._pending is None:
            return []
        seg = replace(self._pending[0], emitted=t)
        self._pending = None
        self._last = seg
        return [seg]

    def step(self, ws: WindowScore) -> list[Segment]:
        """One window score -> the segments that end now (usually none)."""
        cfg = self.cfg
        self.last_t = ws.t
        self._probs.append((ws.t, ws.probs))
        smoothed = np.mean([p for _, p in self._probs], axis=0)  # (K,)
        centre = float(np.mean([t for t, _ in self._probs])) - (self.window - 1) / 2
        p_sign = 1.0 - (float(smoothed[self.idle]) if self.idle >= 0 else 0.0)
        signs = smoothed.copy()
        if self.idle >= 0:
            signs[self.idle] = -1.0
        c = int(np.argmax(signs))
        s = float(signs[c]) / p_sign if p_sign > 1e-9 else 0.0  # p(class | a sign)
        active = (ws.observed and p_sign >= cfg.sign_min and s >= cfg.on and ws.activity >= cfg.min_activity
                  and ws.presence > 0 and ws.presence >= cfg.min_presence and ws.recent >= cfg.min_recent)
        out: list[Segment] = []
        run = self._run
        if run is None:
            if self._pending is not None and not active and ws.t >= self._pending[0].end + self.window:
                out = self._release(ws.t)  # any later sign starts after this one ends
            if active:
                self._run = _Run(c)
                self._run.add(ws.t, s, centre)
            return out
        if active and c == run.cls:
            run.add(ws.t, s, centre)
            self._miss = 0
            self._cand = None
            return out
        self._miss += 1
        if active:  # another class
            if self._cand is None or self._cand.cls != c:
                self._cand = _Run(c)
            self._cand.add(ws.t, s, centre)
            if self._cand.n >= cfg.switch or self._miss > cfg.max_gap:
                out = self._close(ws.t)
                self._run, self._cand = self._cand, None
            return out
        self._cand = None
        if self._miss > cfg.max_gap:
            out = self._close(ws.t)
        return out

    def finish(self) -> list[Segment]:
        """End of input: a run still active is emitted as a partial segment."""
        run = self._run
        if run is None:
            return self._release(self.last_t)
        if self._miss == 0:
            self._run = None
            return self._release(self.last_t) + [self._segment(run, self.last_t, partial=True)]
        return self._close(self.last_t) + self._release(self.last_t)


def spot(scores: Iterable[WindowScore], classes: Sequence[str], window: int,
         cfg: SpotConfig = SpotConfig()) -> list[Segment]:
    """Run a :class:`Spotter` over window scores (offline evaluation; streaming uses ``step``)."""
    sp = Spotter(classes, window, cfg)
    out: list[Segment] = []
    for ws in scores:
        out.extend(sp.step(ws))
    out.extend(sp.finish())
    return out


# --- the baseline: today's `live` -----------------------------------------------------------------
def per_window_baseline(scores: Iterable[WindowScore], classes: Sequence[str], window: int,
                        every: int = 5) -> list[Segment]:
    """Today's ``gspmc live``: the argmax of a window every ``every`` frames, identical consecutive labels
    merged into one segment (first window's first frame to last window's last frame), the idle class
    dropped; emitted when the label changes. Expects stride-1 scores (it keeps every ``every``-th)."""
    out: list[Segment] = []
    cur: tuple[int, int, int, list[float]] | None = None  # class, first t, last t, probs
    last_t = -1
    for ws in scores:
        if (ws.t + 1 - window) % every:
            continue
        last_t = ws.t
        c = int(np.argmax(ws.probs)) if ws.observed else -1
        if cur is not None and c == cur[0]:
            cur = (cur[0], cur[1], ws.t, cur[3] + [float(ws.probs[c])])
            continue
        if cur is not None and cur[0] >= 0 and classes[cur[0]] != IDLE_CLASS:
            out.append(Segment(cur[1] - window + 1, cur[2] + 1, classes[cur[0]], float(np.mean(cur[3])), ws.t))
        cur = (c, ws.t, ws.t, [float(ws.probs[c])] if c >= 0 else [0.0])
    if cur is not None and cur[0] >= 0 and classes[cur[0]] != IDLE_CLASS:
        out.append(Segment(cur[1] - window + 1, cur[2] + 1, classes[cur[0]], float(np.mean(cur[3])), last_t))
    return out


# --- frames -> segments, streaming ----------------------------------------------------------------
@dataclass
class TranscriptStats:
    frames: int = 0
    person_frames: int = 0     # frames with any joint seen
    hand_frames: int = 0       # frames with a hand joint seen
    windows: int = 0

    def message(self) -> str | None:
        """Why a transcript is empty in a way the user should know, or None."""
        if self.frames == 0:
            return "the input has no frame"
        if self.person_frames == 0:
            return f"no person was detected in any of the {self.frames} frames: empty transcript"
        if self.hand_frames == 0:
            return f"hands were never visible in the {self.frames} frames: no sign can be found"
        return None


class Transcriber:
    """Frames in, segments out as soon as each sign is over; memory bounded by the window and smoothing."""

    def __init__(self, predictor: Predictor, layout: str, cfg: SpotConfig = SpotConfig(),
                 window: int | None = None) -> None:
        self.scorer = WindowScorer(predictor, layout, window, cfg.stride)
        self.cfg = replace(cfg)
        self.spotter = Spotter(predictor.classes, self.scorer.size, cfg)
        self.stats = TranscriptStats()

    def push(self, coords: np.ndarray, mask: np.ndarray, score: np.ndarray | None = None) -> list[Segment]:
        """One frame (coords (V, D), mask (V,), score (V,)) -> the segments emitted now."""
        st = self.stats
        st.frames += 1
        if mask.any():
            st.person_frames += 1
            if mask[self.scorer.joints.hands].any():
                st.hand_frames += 1
        ws = self.scorer.push(coords, mask, score)
        if ws is None:
            return []
        st.windows += 1
        return self.spotter.step(ws)

    def finish(self) -> list[Segment]:
        """End of input: flush (a short input gets one window on what it has; a run still going is partial)."""
        if self.stats.windows == 0 and self.stats.hand_frames > 0:
            ws = self.scorer.score_held()
            self.stats.windows += 1
            self.spotter.step(ws)
        if self.stats.hand_frames == 0:
            return []
        return self.spotter.finish()

    def run(self, frames: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> Iterator[Segment]:
        """Generator: every segment, in emission order."""
        for coords, mask, score in frames:
            yield from self.push(coords, mask, score)
        yield from self.finish()
