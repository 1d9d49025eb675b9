"""gspmc transcribe: segment metrics (hand-computed), the stream composer, the spotter, the writers against
golden files, bad inputs, streaming memory. Untrained tiny checkpoints: plumbing, not accuracy."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gspmc.apps.segments import Segment, edit_distance, match_segments, score_segments, temporal_iou
from gspmc.apps.spotting import (
    SpotConfig,
    Spotter,
    Transcriber,
    WindowScore,
    per_window_baseline,
    spot,
    window_scores,
)
from gspmc.apps.streams import (
    Clip,
    StreamConfig,
    boundary_f1,
    compose_stream,
    frame_jumps,
    resample,
    true_boundaries,
)
from gspmc.apps.transcribe import (
    FIXED_DATE,
    Transcript,
    format_table,
    npz_source,
    srt_text,
    transcribe_file,
    write_eaf,
)
from gspmc.errors import DataError
from gspmc.inference.predictor import Predictor
from gspmc.pose.layouts import get_layout
from gspmc.video.holistic import LAYOUT, OFFSETS, HolisticClip
from gspmc.video.posefile import read_clip, write_npz

GOLDEN = Path(__file__).parent / "golden"
CLASSES = ["-", "coffee", "tea"]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- metrics ------------------------------------------------------------------------------------
def test_temporal_iou_hand_computed() -> None:
    assert temporal_iou(Segment(0, 10, "a"), Segment(5, 15, "a")) == pytest.approx(5 / 15)
    assert temporal_iou(Segment(0, 10, "a"), Segment(10, 20, "a")) == 0.0
    assert temporal_iou(Segment(0, 20, "a"), Segment(5, 15, "a")) == pytest.approx(0.5)


def test_segment_scores_hand_computed() -> None:
    truth = [Segment(0, 10, "a"), Segment(20, 30, "b"), Segment(40, 50, "c")]
    found = [Segment(1, 11, "a", emitted=15),    # IoU 9/11: hit, delay 15 - 9 = 6
             Segment(20, 30, "x", emitted=35),   # wrong gloss
             Segment(41, 50, "c", emitted=52),   # IoU 9/10: hit, delay 52 - 49 = 3
             Segment(60, 70, "d")]               # nothing there
    sc = score_segments(found, truth)
    assert (sc.hits, sc.found, sc.truth) == (2, 4, 3)
    assert sc.precision == pytest.approx(0.5) and sc.recall == pytest.approx(2 / 3)
    assert sc.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # [a, x, c, d] vs [a, b, c]: one substitution, one insertion
    assert sc.ger == pytest.approx(2 / 3)
    assert sc.delays == (6, 3)


def test_matching_is_one_to_one_and_needs_iou_half() -> None:
    truth = [Segment(0, 10, "a")]
    found = [Segment(0, 10, "a"), Segment(1, 10, "a"), Segment(6, 16, "a")]  # IoU 1, 0.9, 4/16
    assert match_segments(found, truth) == [(0, 0)]
    assert score_segments([Segment(6, 16, "a")], truth).hits == 0  # IoU 0.25 < 0.5
    assert score_segments([Segment(0, 20, "a")], truth).hits == 1  # IoU exactly 0.5 counts


def test_edit_distance_and_empty_cases() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    assert edit_distance([], ["a", "b"]) == 2
    assert edit_distance(["k", "i", "t"], ["s", "i", "t"]) == 1
    empty = score_segments([], [Segment(0, 5, "a")])
    assert (empty.precision, empty.recall, empty.f1, empty.ger) == (0.0, 0.0, 0.0, 1.0)
    assert score_segments([], []).f1 == 1.0


# --- stream composer ----------------------------------------------------------------------------
def _pool(n: int, gloss: str, rng: np.random.Generator) -> list[Clip]:
    out = []
    for _ in range(n):
        coords = np.cumsum(rng.normal(0, 0.01, (20, 75, 3)), axis=0).astype(np.float32) + rng.uniform(0, 1, 3)
        mask = rng.random((20, 75)) > 0.2
        out.append(Clip(coords, mask, gloss))
    return out


@pytest.fixture(scope="module")
def pools() -> tuple[list[Clip], list[Clip]]:
    rng = np.random.default_rng(0)
    return _pool(6, "coffee", rng) + _pool(6, "tea", rng), _pool(3, "-", rng)


def test_composer_is_deterministic_per_seed(pools) -> None:
    signs, idles = pools
    cfg = StreamConfig(signs=8)
    a = compose_stream(signs, idles, "mp-data-258", 3, cfg)
    b = compose_stream(signs, idles, "mp-data-258", 3, cfg)
    c = compose_stream(signs, idles, "mp-data-258", 4, cfg)
    assert np.array_equal(a.coords, b.coords) and np.array_equal(a.mask, b.mask) and a.truth == b.truth
    assert a.truth != c.truth or not np.array_equal(a.coords, c.coords)


def test_composer_ground_truth(pools) -> None:
    signs, idles = pools
    cfg = StreamConfig(signs=10, gap=(6, 12))
    st = compose_stream(signs, idles, "mp-data-258", 0, cfg)
    assert len(st.truth) == 10 and all(s.gloss in ("coffee", "tea") for s in st.truth)
    for s in st.truth:  # 20 frames at 0.7-1.4x
        assert round(20 / 1.4) <= s.length <= round(20 / 0.7)
    gaps = [st.truth[0].start] + [b.start - a.end for a, b in zip(st.truth, st.truth[1:], strict=False)]
    gaps.append(st.num_frames - st.truth[-1].end)
    assert all(6 <= g <= 12 for g in gaps)
    assert st.coords.shape[:2] == st.mask.shape and st.coords.dtype == np.float32


def test_joins_are_smoothed(pools) -> None:
    """A join in the raw stream is a jump; smoothed, the jump is spread over the join window."""
    signs, idles = pools
    cfg = StreamConfig(signs=8, idle_prob=1.0)
    raw = compose_stream(signs, idles, "mp-data-258", 1, cfg, smooth=False)
    smooth = compose_stream(signs, idles, "mp-data-258", 1, cfg)
    jr, js = frame_jumps(raw.coords, raw.mask), frame_jumps(smooth.coords, smooth.mask)
    joins = np.array(raw.joins)
    assert js[joins].mean() < 0.5 * jr[joins].mean()
    assert boundary_f1(np.array([5, 40]), [4, 20]) == pytest.approx(0.5)
    assert true_boundaries(raw)[0] == raw.truth[0].start


def test_resample_lengths_and_mask() -> None:
    coords = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((10, 2, 2), np.float32)
    mask = np.ones((10, 2), bool)
    mask[5, 1] = False
    c, m = resample(coords, mask, 19)  # 2x slower: every half frame
    assert c.shape == (19, 2, 2) and c[1, 0, 0] == pytest.approx(0.5) and c[-1, 0, 0] == 9
    assert m[:, 0].all() and not m[10, 1]  # frame 5 exactly: unseen stays unseen


# --- spotter ------------------------------------------------------------------------------------
def _ws(t: int, cls: int, p: float, activity: float = 0.05, presence: float = 1.0) -> WindowScore:
    probs = np.full(3, (1 - p) / 2)
    probs[cls] = p
    return WindowScore(t, probs, activity, presence, True)


def test_spotter_one_sign_emitted_once_when_over() -> None:
    cfg = SpotConfig(smooth=1, on=0.5, min_windows=3, max_gap=1, switch=2)
    labels = [0] * 10 + [1] * 8 + [0] * 6  # windows ending at t = 19 .. 42
    scores = [_ws(19 + i, c, 0.9) for i, c in enumerate(labels)]
    sp = Spotter(CLASSES, 20, cfg)
    emitted = [(ws.t, sp.step(ws)) for ws in scores]
    out = [(t, s) for t, segs in emitted for s in segs]
    assert len(out) == 1 and sp.finish() == []
    t, seg = out[0]
    # run: windows ending 29..36 (centres 19.5..26.5) -> centre 23, 20 frames from 13.5 rounded half up; closes on 2nd background window
    assert (seg.gloss, seg.start, seg.end, seg.emitted, t, seg.partial) == ("coffee", 14, 34, 38, 38, False)


def test_spotter_flicker_and_gates() -> None:
    cfg = SpotConfig(smooth=1, on=0.5, min_windows=3, max_gap=2, switch=3)
    labels = [1, 1, 1, 2, 1, 1, 0, 0, 0, 0]  # one flicker to tea inside coffee
    found = spot([_ws(19 + i, c, 0.9) for i, c in enumerate(labels)], CLASSES, 20, cfg)
    assert [s.gloss for s in found] == ["coffee"]
    # the same run without hand activity, without hands, or below the threshold: nothing
    for ws_kw, c in (({"activity": 0.0}, SpotConfig(smooth=1, min_activity=0.01)),
                     ({"presence": 0.0}, SpotConfig(smooth=1)),
                     ({}, SpotConfig(smooth=1, on=0.95))):
        assert spot([_ws(19 + i, 1, 0.9, **ws_kw) for i in range(6)] + [_ws(25 + i, 0, 0.9) for i in range(4)],
                    CLASSES, 20, c) == []


def test_same_sign_seen_again_right_after_is_suppressed() -> None:
    """coffee, background, coffee again 6 frames after (a held final pose): one sign with merge_gap 10."""
    labels = [1] * 6 + [0] * 20 + [1] * 6 + [0] * 4  # segments [3, 23) and [29, 49)
    scores = [_ws(19 + i, c, 0.9) for i, c in enumerate(labels)]
    base = SpotConfig(smooth=1, min_windows=3, max_gap=1)
    two = spot(scores, CLASSES, 20, base)
    assert [s.gloss for s in two] == ["coffee", "coffee"] and two[1].start - two[0].end < 10
    assert [s.gloss for s in spot(scores, CLASSES, 20, SpotConfig(smooth=1, min_windows=3, max_gap=1,
                                                                  merge_gap=10))] == ["coffee"]


def test_nms_keeps_the_overlapping_sign_with_more_evidence() -> None:
    """A 3-window tea run at the start of an 8-window coffee run: both without NMS, coffee only with it,
    emitted once nothing can overlap it any more (its end + one window)."""
    labels = [2] * 3 + [1] * 8 + [0] * 30
    scores = [_ws(19 + i, c, 0.9) for i, c in enumerate(labels)]
    cfg = SpotConfig(smooth=1, min_windows=3, max_gap=1, switch=2)
    assert [s.gloss for s in spot(scores, CLASSES, 20, cfg)] == ["tea", "coffee"]
    sp = Spotter(CLASSES, 20, SpotConfig(smooth=1, min_windows=3, max_gap=1, switch=2, nms_iou=0.01))
    out = [seg for ws in scores for seg in sp.step(ws)]
    assert [s.gloss for s in out] == ["coffee"] and sp.finish() == []
    assert out[0].emitted == out[0].end + 20 and not out[0].partial


def test_cut_mid_sign_gives_a_partial_last_segment() -> None:
    cfg = SpotConfig(smooth=1, min_windows=3)
    found = spot([_ws(19 + i, 0, 0.9) for i in range(5)] + [_ws(24 + i, 2, 0.9) for i in range(4)],
                 CLASSES, 20, cfg)
    assert len(found) == 1 and found[0].gloss == "tea" and found[0].partial and found[0].end <= 28
    table = format_table(Transcript("cut.npz", 30.0, 28, found))
    assert "(partial: input ended mid-sign)" in table


def test_per_window_baseline_merges_and_drops_idle() -> None:
    labels = [0, 1, 1, 2, 2, 0, 1]  # one window every 5 frames (ends 19, 24, ...); stride-1 scores given
    scores = []
    for i in range(19, 19 + 5 * len(labels)):
        scores.append(_ws(i, labels[(i - 19) // 5], 0.8))
    out = per_window_baseline(scores, CLASSES, 20)
    assert [(s.gloss, s.start, s.end) for s in out] == [("coffee", 5, 30), ("tea", 15, 40), ("coffee", 30, 50)]


# --- writers: golden files ----------------------------------------------------------------------
def _transcript() -> Transcript:
    segs = [Segment(12, 32, "coffee", 0.91, 40), Segment(50, 70, "thank-you", 0.72, 80),
            Segment(95, 110, "tea", 0.66, 109, partial=True)]
    return Transcript("stream.npz", 25.0, 110, segs)


def test_srt_matches_golden() -> None:
    assert srt_text(_transcript()) == (GOLDEN / "transcript.srt").read_text()


def test_eaf_matches_golden(tmp_path: Path) -> None:
    path = write_eaf(_transcript(), tmp_path / "t.eaf", date=FIXED_DATE)
    assert path.read_text() == (GOLDEN / "transcript.eaf").read_text()


def test_table_and_json() -> None:
    tr = _transcript()
    table = format_table(tr)
    assert "coffee" in table and "partial" in table and "0.48" in table  # 12 / 25 s
    js = tr.to_json()
    assert js["segments"][2]["partial"] is True and js["segments"][0]["start_s"] == 0.48


# --- files, bad inputs, memory --------------------------------------------------------------------
def _holistic_frames(n: int, seed: int = 0, hands: bool = True, person: bool = True):
    """Synthetic holistic-543 frames (normalised units): a body with moving hands."""
    rng = np.random.default_rng(seed)
    lay = get_layout(LAYOUT)
    base = rng.uniform(0.3, 0.7, (543, 3)).astype(np.float32)
    base[lay.index("left_shoulder"), :2] = (0.6, 0.5)
    base[lay.index("right_shoulder"), :2] = (0.4, 0.5)
    hand = np.arange(OFFSETS["LEFT_HAND_LANDMARKS"], 543)
    for t in range(n):
        coords = base.copy()
        coords[hand, :2] += 0.05 * np.sin(t / 5.0 + hand[:, None] * 0.1)
        mask = np.ones(543, bool) if person else np.zeros(543, bool)
        if not hands:
            mask[hand] = False
        yield np.where(mask[:, None], coords, 0).astype(np.float32), mask, mask.astype(np.float32)


def _clip(frames) -> HolisticClip:
    c, m, s = zip(*frames, strict=True)
    return HolisticClip(np.stack(c) * np.array([640, 480, 1], np.float32), np.stack(s), 30.0, 640, 480)


@pytest.fixture(scope="module")
def predictor(tmp_path_factory, make_ckpt) -> Predictor:
    path = make_ckpt(tmp_path_factory.mktemp("tr") / "t.ckpt", CLASSES, seed=0)
    return Predictor.from_files([path])


def test_streaming_equals_offline(predictor: Predictor) -> None:
    frames = list(_holistic_frames(60))
    coords = np.stack([f[0] for f in frames])
    mask = np.stack([f[1] for f in frames])
    cfg = SpotConfig(on=0.0, smooth=2, min_windows=1)  # untrained: accept every window
    offline = spot(window_scores(predictor, coords, mask, LAYOUT), predictor.classes, 20, cfg)
    streamed = list(Transcriber(predictor, LAYOUT, cfg).run(iter(frames)))
    assert [(s.start, s.end, s.gloss, s.emitted, s.partial) for s in streamed] == \
        [(s.start, s.end, s.gloss, s.emitted, s.partial) for s in offline]


def test_no_person_and_no_hands_give_empty_transcripts_with_a_message(predictor: Predictor, tmp_path: Path) -> None:
    cfg = SpotConfig(on=0.0, min_windows=1)
    for kw, words in (({"person": False}, "no person was detected in any of the"),
                      ({"hands": False}, "hands were never visible in the")):
        path = write_npz(tmp_path / "x.npz", _clip(_holistic_frames(40, **kw)))
        tr = transcribe_file(predictor, path, cfg)
        assert tr.segments == [] and words in tr.message and tr.frames == 40


def test_empty_short_and_broken_files(predictor: Predictor, tmp_path: Path) -> None:
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        transcribe_file(predictor, empty)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="not a gspmc keypoint .npz"):
        transcribe_file(predictor, junk)
    # 8 frames (shorter than the window): one window on what there is, a partial sign at most
    short = write_npz(tmp_path / "short.npz", _clip(_holistic_frames(8)))
    tr = transcribe_file(predictor, short, SpotConfig(on=0.0, min_windows=1))
    assert tr.frames == 8 and all(s.partial for s in tr.segments) and len(tr.segments) <= 1


def test_npz_source_streams_the_same_frames(tmp_path: Path) -> None:
    clip = _clip(_holistic_frames(300))  # > one chunk of 256
    path = write_npz(tmp_path / "k.npz", clip)
    src = npz_source(path)
    got = list(src.frames)
    ref = read_clip(path)
    assert src.total == 300 and len(got) == 300 and src.fps == 30.0
    assert np.allclose(got[299][0][:, 0] * 640, ref.coords[299][:, 0])
    assert np.array_equal(got[5][1], ref.mask[5])


def test_cli_writes_json_srt_eaf(predictor: Predictor, tmp_path: Path, make_ckpt) -> None:
    import argparse

    from gspmc.apps import command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())  # the apps' own commands only, as gspmc.cli registers them

    def main(argv: list[str]) -> int:
        args = parser.parse_args(argv)
        return args.func(args)

    ckpt = make_ckpt(tmp_path / "c.ckpt", CLASSES, seed=0)
    path = write_npz(tmp_path / "in.npz", _clip(_holistic_frames(50)))
    cfg = tmp_path / "spot.json"
    cfg.write_text(json.dumps({"chosen": {"on": 0.0, "min_windows": 1}}))
    assert main(["transcribe", str(path), "-c", str(ckpt), "--out", str(tmp_path / "o"), "--no-progress",
                 "--spot-config", str(cfg)]) == 0
    out = json.loads((tmp_path / "o/in.json").read_text())
    assert out["frames"] == 50 and out["config"]["on"] == 0.0
    assert (tmp_path / "o/in.srt").is_file() and (tmp_path / "o/in.eaf").read_text().startswith("<?xml")


def _peak_bytes(predictor: Predictor, frames: int) -> int:
    tr = Transcriber(predictor, LAYOUT, SpotConfig(on=0.0, min_windows=1, stride=30))
    tracemalloc.start()
    n = 0
    for _ in tr.run(_holistic_frames(frames)):
        n += 1  # segments are consumed, not kept
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert tr.stats.frames == frames
    return peak


def test_memory_does_not_grow_with_input_length(predictor: Predictor) -> None:
    """1 minute vs 10 minutes of 30 fps keypoints through the streaming transcriber."""
    one = _peak_bytes(predictor, 30 * 60)
    ten = _peak_bytes(predictor, 30 * 600)
    # a (T, 543, 3) float32 array of the 10 minutes would be 117 MB; allow 1 MB of noise
    assert ten < one + 1_000_000, (one, ten)


@pytest.mark.shared_data
def test_live_transcribe_headless_emits_each_sign_once(shared_data: Path, predictor: Predictor) -> None:
    from gspmc.apps.live import run_live

    lines: list[str] = []
    cfg = SpotConfig(on=0.0, sign_min=0.0, min_windows=1, stride=5)  # untrained model: accept every window
    stats = run_live(predictor, video=shared_data / "videos/wlasl_00339.mp4", headless=True, emit=lines.append,
                     transcribe=True, spot=cfg)
    assert stats.frames >= 55 and stats.predictions > 0
    assert stats.signs and len(lines) == len(stats.signs) and all(line.startswith("sign ") for line in lines)
    assert [s.emitted for s in stats.signs] == sorted(s.emitted for s in stats.signs)


def test_a_video_without_a_person_gives_an_empty_transcript(predictor: Predictor, tmp_path: Path) -> None:
    """Through MediaPipe: 30 grey frames, nobody in them."""
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("mediapipe")
    from gspmc.video.holistic import HolisticRunner

    path = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for _ in range(30):
        writer.write(np.full((120, 160, 3), 128, np.uint8))
    writer.release()
    with HolisticRunner() as runner:
        tr = transcribe_file(predictor, path, SpotConfig(on=0.0, min_windows=1), runner=runner)
    assert tr.frames == 30 and tr.segments == []
    assert "no person was detected in any of the 30 frames" in tr.message
