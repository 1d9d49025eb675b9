"""The one keypoint-layout registry: named joints, skeleton trees, part groups, mirror maps.

A :class:`Layout` names every joint with a *canonical* name shared by all layouts for the same
anatomical point (``nose``, ``left_shoulder``, ``left_wrist``, hand joints ``left_hand_wrist``,
``left_thumb_cmc`` .. ``left_thumb_tip``, ``left_index_mcp`` / ``_pip`` / ``_dip`` / ``_tip``, ...),
so converting between layouts is a lookup by name (:func:`convert`). "left" is always the
*signer's* left. The mirror map swaps ``left_*`` and ``right_*`` names (points on the midline map to
themselves); the MediaPipe face mesh, whose points carry no side in their names, lists its pairs
explicitly in :attr:`Layout.mirror_pairs`.

Input layouts (what detectors write)
    ``coco-wholebody-133``     body 0-16, feet 17-22, face 23-90 (iBUG 68), left hand 91-111,
                               right hand 112-132 (HRNet / MMPose whole-body, SAM-SLR's keypoints).
    ``mediapipe-holistic-543`` pose 33, face mesh 468, left hand 21, right hand 21, in pose-format's
                               component order POSE_LANDMARKS, FACE_LANDMARKS, LEFT_HAND_LANDMARKS,
                               RIGHT_HAND_LANDMARKS.
    ``mp-data-258``            "MP_Data" vectors: pose 33 x (x, y, z, visibility), left hand 21 x
                               (x, y, z), right hand 21 x (x, y, z): 75 joints
                               (see :func:`split_mp_data_vectors`).
    ``mp-data-1662``           pose 33 x 4, face 468 x 3, left hand, right hand: 543 joints.

Model layouts (what the skeleton encoder sees; each one's edges form a single spanning tree)
    ``sam-slr-27``   SAM-SLR's 27 COCO-WholeBody points and its 26 edges.
    ``gspmc-87``     our reading of GSP-MC's unpublished 87 points (body 15, left hand 21, right
                     hand 21, mouth 10, face 20), all from COCO-WholeBody 133:

                     * body 15 = COCO 0-14: nose, eyes, ears, shoulders, elbows, wrists, hips and
                       knees. The 13 upper-body points carry the signing; the knees are the two points
                       that complete "body 15" most plausibly (the first 15 COCO body points, i.e.
                       COCO's 17 without the ankles, which are essentially never in a signing frame);
                       when out of frame they are masked like any missing point.
                     * left hand 91-111, right hand 112-132 (all 21 points each).
                     * mouth 10 = outer lip corners 48, 54, outer upper lip 50, 51, 52, outer lower
                       lip 56, 57, 58, inner lip centres 62 (upper), 66 (lower) of the 68-point face
                       (COCO 71, 77, 73, 74, 75, 79, 80, 81, 85, 89): lip shape plus mouth opening.
                     * face 20 = brows 17, 19, 21, 22, 24, 26 (outer, middle, inner end of each brow),
                       eyes 36, 37, 39, 41 / 42, 44, 45, 46 (both corners, upper and lower lid of each
                       eye), nose 27 (bridge top), 30 (tip), 33 (base), jaw 0, 8, 16 (the two ends
                       of the jaw line and the chin) (COCO 40, 42, 44, 45, 47, 49, 59, 60, 62, 64,
                       65, 67, 68, 69, 50, 53, 56, 23, 31, 39): brow raise, eye aperture, head
                       pose. Every chosen point's mirror image is also chosen.
    ``gspmc-55``     MediaPipe without a face: body 13 (nose, eyes, ears, mouth corners,
                     shoulders, elbows, wrists), left hand 21, right hand 21.
    ``mediapipe-75`` MediaPipe pose 33 + both hands (the MP_Data joints with a model skeleton).

The model layouts' trees are not written by hand: each is the restriction of its source layout's
full tree to the chosen joints (a joint's parent is its nearest chosen ancestor), so e.g.
``sam-slr-27`` reproduces SAM-SLR's published 26 edges exactly. All trees are rooted at the nose:
none of these detectors has a neck or mid-body joint, and the nose is the midline joint that
joins the head to both shoulders (the same root SAM-SLR uses). Hands hang off the body wrists,
face points off the nose.

Nothing is built at import: the built-in layouts are made on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gspmc.errors import ConfigError, DataError

__all__ = [
    "Layout",
    "convert",
    "conversion_indices",
    "get_layout",
    "list_layouts",
    "mirror_name",
    "register_layout",
    "split_mp_data_vectors",
]


def mirror_name(name: str) -> str:
    """The name of ``name``'s mirror image: ``left_*`` <-> ``right_*``, anything else unchanged."""
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    return name


@dataclass(frozen=True)
class Layout:
    """A keypoint layout: joints by name, a skeleton forest, part groups and a mirror map.

    Args:
        name: registry name, e.g. ``"gspmc-87"``.
        joints: canonical joint names; a joint's index is its position.
        edges: ``(child, parent)`` pairs forming a forest (each joint has at most one parent).
        parts: part name -> joint names (e.g. ``body``, ``left_hand``); the order of the dict is
            the order models pool parts in.
        mirror_pairs: extra mirror pairs for joints whose names carry no side (the MediaPipe face
            mesh); every other joint mirrors by name (:func:`mirror_name`).
    """

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    parts: dict[str, tuple[str, ...]] = field(hash=False)
    mirror_pairs: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        where = f"layout {self.name!r}"
        if len(set(self.joints)) != len(self.joints):
            dup = sorted({j for j in self.joints if self.joints.count(j) > 1})
            raise ConfigError(f"{where}: duplicate joint names {dup}")
        known = set(self.joints)
        seen_child: set[str] = set()
        for child, parent in self.edges:
            for j in (child, parent):
                if j not in known:
                    raise ConfigError(f"{where}: edge ({child!r}, {parent!r}) names unknown joint {j!r}")
            if child in seen_child:
                raise ConfigError(f"{where}: joint {child!r} has more than one parent")
            if child == parent:
                raise ConfigError(f"{where}: joint {child!r} is its own parent")
            seen_child.add(child)
        parents = dict(self.edges)
        for start in self.joints:  # walk up from every joint; a cycle never reaches a root
            j, steps = start, 0
            while j in parents:
                j, steps = parents[j], steps + 1
                if steps > len(self.joints):
                    raise ConfigError(f"{where}: the edges form a cycle through {start!r}")
        for part, names in self.parts.items():
            bad = [j for j in names if j not in known]
            if bad:
                raise ConfigError(f"{where}: part {part!r} names unknown joints {bad}")
        for a, b in self.mirror_pairs:
            if a not in known or b not in known:
                raise ConfigError(f"{where}: mirror pair ({a!r}, {b!r}) names an unknown joint")

    # ----- derived views (cached; returned arrays are read-only) -----
    @property
    def num_joints(self) -> int:
        """V, the number of joints."""
        return len(self.joints)

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {j: i for i, j in enumerate(self.joints)}

    def index(self, name: str) -> int:
        """Position of joint ``name``; a :class:`ConfigError` when the layout has no such joint."""
        try:
            return self._index[name]
        except KeyError:
            raise ConfigError(f"layout {self.name!r} has no joint {name!r}") from None

    def has(self, name: str) -> bool:
        """Whether the layout has a joint called ``name``."""
        return name in self._index

    @functools.cached_property
    def _parents(self) -> np.ndarray:
        out = np.full(self.num_joints, -1, dtype=np.int64)
        for child, parent in self.edges:
            out[self._index[child]] = self._index[parent]
        out.flags.writeable = False
        return out

    def parents(self) -> np.ndarray:
        """(V,) int64: each joint's parent index, -1 for a root."""
        return self._parents

    @functools.cached_property
    def _part_indices(self) -> dict[str, np.ndarray]:
        out = {}
        for part, names in self.parts.items():
            idx = np.array([self._index[j] for j in names], dtype=np.int64)
            idx.flags.writeable = False
            out[part] = idx
        return out

    def part_indices(self) -> dict[str, np.ndarray]:
        """Part name -> (V_part,) int64 joint indices, in :attr:`parts` order."""
        return dict(self._part_indices)

    @functools.cached_property
    def _mirror(self) -> np.ndarray:
        explicit: dict[str, str] = {}
        for a, b in self.mirror_pairs:
            explicit[a], explicit[b] = b, a
        out = np.empty(self.num_joints, dtype=np.int64)
        for i, j in enumerate(self.joints):
            m = explicit.get(j, mirror_name(j))
            if m not in self._index:
                raise ConfigError(f"layout {self.name!r}: joint {j!r} has no mirror joint {m!r}")
            out[i] = self._index[m]
        out.flags.writeable = False
        return out

    def mirror_indices(self) -> np.ndarray:
        """(V,) int64 permutation: ``x_mirrored = x[..., mirror_indices(), :]`` swaps left and right.

        An involution; joints on the midline (``nose``, ``chin``, ...) map to themselves.
        """
        return self._mirror

    def edge_index(self) -> np.ndarray:
        """(E, 2) int64 ``(child, parent)`` index pairs, in :attr:`edges` order."""
        pairs = [(self._index[c], self._index[p]) for c, p in self.edges]
        return np.array(pairs, dtype=np.int64).reshape(-1, 2)  # (E, 2), also when E = 0

    def is_spanning_tree(self) -> bool:
        """True when the edges join all joints into one tree (V - 1 edges, exactly one root)."""
        return len(self.edges) == self.num_joints - 1 and int((self.parents() < 0).sum()) == 1


# ------------------------------------------------------------------------------------------------
# Building blocks: names and trees of the detectors' point sets
# ------------------------------------------------------------------------------------------------
_FINGERS = ("index", "middle", "ring", "pinky")
_SIDES = ("left", "right")


def _hand_joints(side: str) -> list[str]:
    """21 hand points in the MediaPipe / COCO-WholeBody order: wrist, thumb 1-4, index .. pinky 1-4."""
    names = [f"{side}_hand_wrist"] + [f"{side}_thumb_{p}" for p in ("cmc", "mcp", "ip", "tip")]
    for finger in _FINGERS:
        names += [f"{side}_{finger}_{p}" for p in ("mcp", "pip", "dip", "tip")]
    return names


def _hand_edges(side: str) -> list[tuple[str, str]]:
    """Finger chains, each rooted at the hand wrist; the hand wrist itself has no parent here."""
    edges = []
    for finger, points in [("thumb", ("cmc", "mcp", "ip", "tip"))] + [(f, ("mcp", "pip", "dip", "tip")) for f in _FINGERS]:
        parent = f"{side}_hand_wrist"
        for p in points:
            edges.append((f"{side}_{finger}_{p}", parent))
            parent = f"{side}_{finger}_{p}"
    return edges


def _sym(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Edges written for the left side, plus their mirror images (midline edges once)."""
    out: list[tuple[str, str]] = []
    for c, p in pairs:
        for e in ((c, p), (mirror_name(c), mirror_name(p))):
            if e not in out:
                out.append(e)
    return out


# COCO-WholeBody body 0-16 and feet 17-22.
_COCO_BODY = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_COCO_FEET = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
_COCO_BODY_EDGES = _sym([
    ("left_eye", "nose"), ("left_ear", "left_eye"), ("left_shoulder", "nose"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("left_hip", "left_shoulder"),
    ("left_knee", "left_hip"), ("left_ankle", "left_knee"), ("left_big_toe", "left_ankle"),
    ("left_small_toe", "left_ankle"), ("left_heel", "left_ankle"),
])  # fmt: skip


def _face68_joints() -> list[str]:
    """The iBUG 68-point face (COCO-WholeBody 23-90). Points 0-7, 17-21, 31-32, 36-41, 48-50 ...
    lie on the signer's right (the image's left for a frontal face)."""
    jaw = [f"right_jaw_{k}" for k in range(8)] + ["chin"] + [f"left_jaw_{k}" for k in range(7, -1, -1)]
    brows = [f"right_brow_{k}" for k in range(5)] + [f"left_brow_{k}" for k in range(4, -1, -1)]
    nose = ["nose_bridge_0", "nose_bridge_1", "nose_bridge_2", "face_nose_tip",
            "right_nose_base_0", "right_nose_base_1", "nose_base", "left_nose_base_1", "left_nose_base_0"]  # fmt: skip
    eye_r = ["right_eye_outer", "right_eye_upper_outer", "right_eye_upper_inner", "right_eye_inner",
             "right_eye_lower_inner", "right_eye_lower_outer"]  # fmt: skip
    eye_l = ["left_eye_inner", "left_eye_upper_inner", "left_eye_upper_outer", "left_eye_outer",
             "left_eye_lower_outer", "left_eye_lower_inner"]  # fmt: skip
    outer = ["right_mouth_corner", "right_upper_lip_2", "right_upper_lip_1", "upper_lip_center",
             "left_upper_lip_1", "left_upper_lip_2", "left_mouth_corner", "left_lower_lip_2",
             "left_lower_lip_1", "lower_lip_center", "right_lower_lip_1", "right_lower_lip_2"]  # fmt: skip
    inner = ["right_inner_mouth_corner", "right_inner_upper_lip_1", "inner_upper_lip_center",
             "left_inner_upper_lip_1", "left_inner_mouth_corner", "left_inner_lower_lip_1",
             "inner_lower_lip_center", "right_inner_lower_lip_1"]  # fmt: skip
    names = jaw + brows + nose + eye_r + eye_l + outer + inner
    assert len(names) == 68
    return names


# A tree over the 68 face points, hanging from the body nose through the face's nose tip.
_FACE68_EDGES = _sym([
    ("face_nose_tip", "nose"), ("nose_bridge_2", "face_nose_tip"), ("nose_bridge_1", "nose_bridge_2"),
    ("nose_bridge_0", "nose_bridge_1"), ("nose_base", "face_nose_tip"),
    ("left_nose_base_1", "nose_base"), ("left_nose_base_0", "left_nose_base_1"),
    ("left_brow_4", "nose_bridge_0"), ("left_brow_3", "left_brow_4"), ("left_brow_2", "left_brow_3"),
    ("left_brow_1", "left_brow_2"), ("left_brow_0", "left_brow_1"),
    ("left_eye_inner", "nose_bridge_0"), ("left_eye_upper_inner", "left_eye_inner"),
    ("left_eye_upper_outer", "left_eye_upper_inner"), ("left_eye_outer", "left_eye_upper_outer"),
    ("left_eye_lower_inner", "left_eye_inner"), ("left_eye_lower_outer", "left_eye_lower_inner"),
    ("upper_lip_center", "nose_base"), ("left_upper_lip_1", "upper_lip_center"),
    ("left_upper_lip_2", "left_upper_lip_1"), ("left_mouth_corner", "left_upper_lip_2"),
    ("inner_upper_lip_center", "upper_lip_center"), ("left_inner_upper_lip_1", "inner_upper_lip_center"),
    ("left_inner_mouth_corner", "left_inner_upper_lip_1"), ("inner_lower_lip_center", "inner_upper_lip_center"),
    ("left_inner_lower_lip_1", "inner_lower_lip_center"), ("lower_lip_center", "inner_lower_lip_center"),
    ("left_lower_lip_1", "lower_lip_center"), ("left_lower_lip_2", "left_lower_lip_1"),
    ("chin", "lower_lip_center"), ("left_jaw_7", "chin"), ("left_jaw_6", "left_jaw_7"),
    ("left_jaw_5", "left_jaw_6"), ("left_jaw_4", "left_jaw_5"), ("left_jaw_3", "left_jaw_4"),
    ("left_jaw_2", "left_jaw_3"), ("left_jaw_1", "left_jaw_2"), ("left_jaw_0", "left_jaw_1"),
])  # fmt: skip

# MediaPipe Pose 33 (PoseLandmark order). Its LEFT_PINKY / LEFT_INDEX / LEFT_THUMB are knuckles
# seen by the body model, distinct from the hand model's finger joints.
_MP_POSE = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "left_mouth_corner", "right_mouth_corner",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky_knuckle", "right_pinky_knuckle", "left_index_knuckle", "right_index_knuckle",
    "left_thumb_knuckle", "right_thumb_knuckle", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
_MP_POSE_EDGES = _sym([
    ("left_eye_inner", "nose"), ("left_eye", "left_eye_inner"), ("left_eye_outer", "left_eye"),
    ("left_ear", "left_eye_outer"), ("left_mouth_corner", "nose"), ("left_shoulder", "nose"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("left_pinky_knuckle", "left_wrist"),
    ("left_index_knuckle", "left_wrist"), ("left_thumb_knuckle", "left_wrist"),
    ("left_hip", "left_shoulder"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("left_heel", "left_ankle"), ("left_foot_index", "left_heel"),
])  # fmt: skip

# Left-right pairs of the 468-point MediaPipe face mesh (28 points lie on the midline). A geometric
# fact of MediaPipe's symmetric canonical face model (its x-reflection lands exactly on another
# vertex), as tabulated in pose-format's holistic utilities (MIT).
_FACE_MESH_MIRROR_PAIRS = (
    (3, 248), (7, 249), (20, 250), (21, 251), (22, 252), (23, 253), (24, 254), (25, 255), (26, 256),
    (27, 257), (28, 258), (29, 259), (30, 260), (31, 261), (32, 262), (33, 263), (34, 264), (35, 265),
    (36, 266), (37, 267), (38, 268), (39, 269), (40, 270), (41, 271), (42, 272), (43, 273), (44, 274),
    (45, 275), (46, 276), (47, 277), (48, 278), (49, 279), (50, 280), (51, 281), (52, 282), (53, 283),
    (54, 284), (55, 285), (56, 286), (57, 287), (58, 288), (59, 289), (60, 290), (61, 291), (62, 292),
    (63, 293), (64, 294), (65, 295), (66, 296), (67, 297), (68, 298), (69, 299), (70, 300), (71, 301),
    (72, 302), (73, 303), (74, 304), (75, 305), (76, 306), (77, 307), (78, 308), (79, 309), (80, 310),
    (81, 311), (82, 312), (83, 313), (84, 314), (85, 315), (86, 316), (87, 317), (88, 318), (89, 319),
    (90, 320), (91, 321), (92, 322), (93, 323), (95, 324), (96, 325), (97, 326), (98, 327), (99, 328),
    (100, 329), (101, 330), (102, 331), (103, 332), (104, 333), (105, 334), (106, 335), (107, 336),
    (108, 337), (109, 338), (110, 339), (111, 340), (112, 341), (113, 342), (114, 343), (115, 344),
    (116, 345), (117, 346), (118, 347), (119, 348), (120, 349), (121, 350), (122, 351), (123, 352),
    (124, 353), (125, 354), (126, 355), (127, 356), (128, 357), (129, 358), (130, 359), (131, 360),
    (132, 361), (133, 362), (134, 363), (135, 364), (136, 365), (137, 366), (138, 367), (139, 368),
    (140, 369), (141, 370), (142, 371), (143, 372), (144, 373), (145, 374), (146, 375), (147, 376),
    (148, 377), (149, 378), (150, 379), (153, 380), (154, 381), (155, 382), (156, 383), (157, 384),
    (158, 385), (159, 386), (160, 387), (161, 388), (162, 389), (163, 390), (165, 391), (166, 392),
    (167, 393), (169, 394), (170, 395), (171, 396), (172, 397), (173, 398), (174, 399), (176, 400),
    (177, 401), (178, 402), (179, 403), (180, 404), (181, 405), (182, 406), (183, 407), (184, 408),
    (185, 409), (186, 410), (187, 411), (188, 412), (189, 413), (190, 414), (191, 415), (192, 416),
    (193, 417), (194, 418), (196, 419), (198, 420), (201, 421), (202, 422), (203, 423), (204, 424),
    (205, 425), (206, 426), (207, 427), (208, 428), (209, 429), (210, 430), (211, 431), (212, 432),
    (213, 433), (214, 434), (215, 435), (216, 436), (217, 437), (218, 438), (219, 439), (220, 440),
    (221, 441), (222, 442), (223, 443), (224, 444), (225, 445), (226, 446), (227, 447), (228, 448),
    (229, 449), (230, 450), (231, 451), (232, 452), (233, 453), (234, 454), (235, 455), (236, 456),
    (237, 457), (238, 458), (239, 459), (240, 460), (241, 461), (242, 462), (243, 463), (244, 464),
    (245, 465), (246, 466), (247, 467)
)  # fmt: skip


def _hands_block() -> tuple[list[str], list[tuple[str, str]]]:
    """Both hands' joints (left then right) and their edges, hand wrists hanging off body wrists."""
    joints: list[str] = []
    edges: list[tuple[str, str]] = []
    for side in _SIDES:
        joints += _hand_joints(side)
        edges += [(f"{side}_hand_wrist", f"{side}_wrist")] + _hand_edges(side)
    return joints, edges


def _coco_wholebody_133() -> Layout:
    face = _face68_joints()
    hands, hand_edges = _hands_block()
    joints = (*_COCO_BODY, *_COCO_FEET, *face, *hands)
    return Layout(
        name="coco-wholebody-133",
        joints=joints,
        edges=tuple(_COCO_BODY_EDGES + _FACE68_EDGES + hand_edges),
        parts={
            "body": _COCO_BODY,
            "feet": _COCO_FEET,
            "face": tuple(face),
            "left_hand": tuple(_hand_joints("left")),
            "right_hand": tuple(_hand_joints("right")),
        },
    )


def _mediapipe_543(name: str) -> Layout:
    face = tuple(f"face_mesh_{i}" for i in range(468))
    hands, hand_edges = _hands_block()
    return Layout(
        name=name,
        joints=(*_MP_POSE, *face, *hands),
        edges=tuple(_MP_POSE_EDGES + hand_edges),  # the face mesh is a graph, not a tree: no edges
        parts={
            "body": _MP_POSE,
            "face": face,
            "left_hand": tuple(_hand_joints("left")),
            "right_hand": tuple(_hand_joints("right")),
        },
        mirror_pairs=tuple((f"face_mesh_{a}", f"face_mesh_{b}") for a, b in _FACE_MESH_MIRROR_PAIRS),
    )


def _mediapipe_75(name: str) -> Layout:
    hands, hand_edges = _hands_block()
    return Layout(
        name=name,
        joints=(*_MP_POSE, *hands),
        edges=tuple(_MP_POSE_EDGES + hand_edges),
        parts={
            "left_hand": tuple(_hand_joints("left")),
            "right_hand": tuple(_hand_joints("right")),
            "body": _MP_POSE,
        },
    )


def subset_layout(source: Layout, name: str, parts: dict[str, Sequence[str]], joints: Sequence[str] | None = None) -> Layout:
    """A layout on some of ``source``'s joints whose tree is ``source``'s tree restricted to them.

    Each chosen joint's parent is its nearest chosen ancestor in ``source``, so the result is a
    spanning tree whenever ``source``'s tree is one tree containing all chosen joints and its
    root is chosen.

    Args:
        source: the layout the joints come from.
        name: the new layout's name.
        parts: part name -> joint names (order kept).
        joints: the joint order; default: the parts' joints concatenated in order.
    """
    order = tuple(joints) if joints is not None else tuple(j for names in parts.values() for j in names)
    chosen = set(order)
    for j in order:
        source.index(j)  # a clear error for a name the source lacks
    parent_of = dict(source.edges)
    edges = []
    for j in order:
        p = parent_of.get(j)
        while p is not None and p not in chosen:
            p = parent_of.get(p)
        if p is not None:
            edges.append((j, p))
    return Layout(name=name, joints=order, edges=tuple(edges), parts={k: tuple(v) for k, v in parts.items()})


# SAM-SLR's 27 points as COCO-WholeBody indices (published) and, in that order, our names.
SAM_SLR_27_COCO = (0, 5, 6, 7, 8, 9, 10, 91, 95, 96, 99, 100, 103, 104, 107, 108, 111,
                   112, 116, 117, 120, 121, 124, 125, 128, 129, 132)  # fmt: skip
# GSP-MC 87 as COCO-WholeBody indices, by part (see the module docstring for the reasoning).
GSPMC_87_COCO = {
    "body": tuple(range(15)),
    "left_hand": tuple(range(91, 112)),
    "right_hand": tuple(range(112, 133)),
    "mouth": tuple(23 + k for k in (48, 50, 51, 52, 54, 56, 57, 58, 62, 66)),
    "face": tuple(23 + k for k in (17, 19, 21, 22, 24, 26, 36, 37, 39, 41, 42, 44, 45, 46, 27, 30, 33, 0, 8, 16)),
}
# Description-store part order; models pool parts in this order.
_PART_ORDER = ("left_hand", "right_hand", "body", "face", "mouth")


def _sam_slr_27() -> Layout:
    coco = get_layout("coco-wholebody-133")
    joints = [coco.joints[i] for i in SAM_SLR_27_COCO]
    parts = {
        "left_hand": tuple(j for j in joints if 91 <= coco.index(j) < 112),
        "right_hand": tuple(j for j in joints if coco.index(j) >= 112),
        "body": tuple(j for j in joints if coco.index(j) < 17),
    }
    return subset_layout(coco, "sam-slr-27", parts, joints=joints)


def _gspmc_87() -> Layout:
    coco = get_layout("coco-wholebody-133")
    joints = [coco.joints[i] for part in ("body", "left_hand", "right_hand", "mouth", "face") for i in GSPMC_87_COCO[part]]
    parts = {p: tuple(coco.joints[i] for i in GSPMC_87_COCO[p]) for p in _PART_ORDER}
    return subset_layout(coco, "gspmc-87", parts, joints=joints)


def _gspmc_55() -> Layout:
    mp = get_layout("mediapipe-75")
    body = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_mouth_corner", "right_mouth_corner",
            "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")  # fmt: skip
    joints = (*body, *_hand_joints("left"), *_hand_joints("right"))
    parts = {"left_hand": tuple(_hand_joints("left")), "right_hand": tuple(_hand_joints("right")), "body": body}
    return subset_layout(mp, "gspmc-55", parts, joints=joints)


# ------------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------------
_BUILTIN: dict[str, Callable[[], Layout]] = {
    "coco-wholebody-133": _coco_wholebody_133,
    "mediapipe-holistic-543": lambda: _mediapipe_543("mediapipe-holistic-543"),
    "mp-data-258": lambda: _mediapipe_75("mp-data-258"),
    "mp-data-1662": lambda: _mediapipe_543("mp-data-1662"),
    "sam-slr-27": _sam_slr_27,
    "gspmc-87": _gspmc_87,
    "gspmc-55": _gspmc_55,
    "mediapipe-75": lambda: _mediapipe_75("mediapipe-75"),
}
#: Layouts a model can be trained on (each one's edges form a single spanning tree).
MODEL_LAYOUTS = ("sam-slr-27", "gspmc-87", "gspmc-55", "mediapipe-75")
_REGISTERED: dict[str, Layout] = {}


def list_layouts() -> list[str]:
    """Names of all known layouts (built-in and registered), sorted."""
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def get_layout(name: str | Layout) -> Layout:
    """The layout called ``name`` (a :class:`Layout` is returned as is)."""
    if isinstance(name, Layout):
        return name
    if name not in _REGISTERED:
        if name not in _BUILTIN:
            raise ConfigError(f"unknown keypoint layout {name!r}; known layouts: {', '.join(list_layouts())}")
        _REGISTERED[name] = _BUILTIN[name]()
    return _REGISTERED[name]


def register_layout(layout: Layout, *, replace: bool = False) -> None:
    """Add ``layout`` to the registry under ``layout.name``.

    Raises:
        ConfigError: the name is taken (by a built-in or an earlier registration) and not ``replace``.
    """
    if not isinstance(layout, Layout):
        raise ConfigError(f"register_layout expects a Layout, got {type(layout).__name__}")
    if not replace and (layout.name in _BUILTIN or layout.name in _REGISTERED):
        raise ConfigError(f"a layout called {layout.name!r} already exists (pass replace=True to replace it)")
    _REGISTERED[layout.name] = layout
    _conversion_indices.cache_clear()  # a replaced layout must not be converted with stale indices


# ------------------------------------------------------------------------------------------------
# Conversions
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _conversion_indices(src: str, dst: str) -> np.ndarray:
    s, d = get_layout(src), get_layout(dst)
    idx = np.array([s._index.get(j, -1) for j in d.joints], dtype=np.int64)
    idx.flags.writeable = False
    return idx


def conversion_indices(src: str | Layout, dst: str | Layout) -> np.ndarray:
    """(V_dst,) int64: for each ``dst`` joint, the ``src`` joint with the same name, -1 if none."""
    s, d = get_layout(src), get_layout(dst)
    if s is _REGISTERED.get(s.name) and d is _REGISTERED.get(d.name):
        return _conversion_indices(s.name, d.name)
    return np.array([s._index.get(j, -1) for j in d.joints], dtype=np.int64)


def convert(
    coords: np.ndarray, mask: np.ndarray, src: str | Layout, dst: str | Layout
) -> tuple[np.ndarray, np.ndarray]:
    """Re-index a clip from layout ``src`` to layout ``dst`` by joint name.

    Args:
        coords: (..., V_src, D) coordinates, usually (T, V, D).
        mask: (..., V_src) bool, True where a joint was observed.
        src, dst: layout names (or layouts).

    Returns:
        coords (..., V_dst, D) and mask (..., V_dst). A ``dst`` joint that ``src`` lacks, or that
        was not observed, has mask False and coordinates 0.

    Raises:
        DataError: ``coords`` / ``mask`` do not have ``src``'s joint count or disagree in shape.
    """
    s, d = get_layout(src), get_layout(dst)
    coords, mask = np.asarray(coords), np.asarray(mask, dtype=bool)
    if coords.ndim < 2 or coords.shape[-2] != s.num_joints:
        raise DataError(None, f"coords of shape {coords.shape} do not have layout {s.name!r}'s {s.num_joints} joints on axis -2")
    if mask.shape != coords.shape[:-1]:
        raise DataError(None, f"mask of shape {mask.shape} does not match coords of shape {coords.shape}")
    idx = conversion_indices(s, d)
    have = idx >= 0
    take = np.where(have, idx, 0)
    out_mask = mask[..., take] & have  # (..., V_dst)
    out = np.where(out_mask[..., None], coords[..., take, :], 0).astype(coords.dtype, copy=False)  # (..., V_dst, D)
    return out, out_mask


def split_mp_data_vectors(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split "MP_Data" frame vectors into coordinates, an observation mask and a score.

    Layout ``mp-data-258``: 33 pose points x (x, y, z, visibility), then left hand 21 x (x, y, z),
    then right hand 21 x (x, y, z). Layout ``mp-data-1662``: pose 33 x 4, face 468 x 3, left hand,
    right hand. A component (pose, face, one hand) that is all zeros in a frame was not detected:
    its joints are masked. Pose joints score their MediaPipe visibility; face and hand joints score
    1 where observed; masked joints score 0 (and keep coordinates 0).

    Args:
        arr: (T, 258) or (T, 1662) array (any float dtype).

    Returns:
        coords (T, V, 3) float32, mask (T, V) bool, score (T, V) float32 with V = 75 or 543.

    Raises:
        DataError: wrong shape or non-finite values.
    """
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[1] not in (258, 1662):
        raise DataError(None, f"MP_Data vectors must have shape (T, 258) or (T, 1662), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(None, f"MP_Data vectors contain {int((~np.isfinite(arr)).sum())} NaN/inf values")
    arr = arr.astype(np.float32, copy=False)
    t = arr.shape[0]
    pose = arr[:, :132].reshape(t, 33, 4)  # (T, 33, 4)
    blocks = [pose[..., :3]]
    sizes = [33]
    off = 132
    if arr.shape[1] == 1662:
        blocks.append(arr[:, off : off + 1404].reshape(t, 468, 3))  # (T, 468, 3)
        sizes.append(468)
        off += 1404
    for _ in range(2):
        blocks.append(arr[:, off : off + 63].reshape(t, 21, 3))  # (T, 21, 3)
        sizes.append(21)
        off += 63
    masks, scores = [], []
    for k, b in enumerate(blocks):
        raw = pose if k == 0 else b
        seen = np.any(raw.reshape(t, -1) != 0, axis=1)  # (T,) component detected in the frame
        m = np.repeat(seen[:, None], sizes[k], axis=1)  # (T, V_k)
        masks.append(m)
        scores.append(np.where(m, pose[..., 3] if k == 0 else 1.0, 0.0).astype(np.float32))
    coords = np.concatenate(blocks, axis=1)  # (T, V, 3)
    mask = np.concatenate(masks, axis=1)  # (T, V)
    score = np.concatenate(scores, axis=1)  # (T, V)
    coords = np.where(mask[..., None], coords, 0).astype(np.float32)
    return coords, mask, score
