"""openpose, openpose_hand, openpose_face, openpose_faceonly, openpose_full: the CMU body network (with the hand
and face networks) on the user's own weight files, drawn as the pose map the openpose ControlNets read
(modules/controlnet/preprocessors/openpose/draw.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles, NetworkCache
from modules.controlnet.preprocessors.edges import scale_short_side
from modules.controlnet.preprocessors.network_io import pad_edges
from modules.controlnet.preprocessors.registry import Params

BODY_FILE = "body_pose_model.pth"
HAND_FILE = "hand_pose_model.pth"
FACE_FILE = "facenet.pth"


def build_body(states: list[dict], path: Path):
    from modules.controlnet.preprocessors.openpose.network import BodyPoseNet, load_flat

    return load_flat(BodyPoseNet, states[0], path, "an OpenPose body")


def build_hand(states: list[dict], path: Path):
    from modules.controlnet.preprocessors.openpose.network import HandPoseNet, load_flat

    return load_flat(HandPoseNet, states[0], path, "an OpenPose hand")


def build_face(states: list[dict], path: Path):
    from modules.controlnet.preprocessors.openpose.network import face_net, load_flat

    return load_flat(face_net, states[0], path, "an OpenPose face")


def detect_bodies(net, rgb: np.ndarray) -> list:
    """Every person's 18 keypoints (None where absent), in pixels of `rgb`."""
    from modules.controlnet.preprocessors.openpose.body import body_maps, find_peaks, match_limbs
    from modules.controlnet.preprocessors.openpose.people import assemble, keypoints

    heat, pafs = body_maps(net, rgb)  # [H, W, 19], [H, W, 38]
    peaks = find_peaks(heat)
    candidates = np.concatenate(peaks)  # [n, 4] (x, y, score, id), row = id
    people = assemble(match_limbs(pafs, peaks, rgb.shape[0]), candidates)
    return keypoints(people, candidates)


def detect_people(files: AnnotatorFiles, cache: NetworkCache, padded: np.ndarray, with_hands: bool = False,
                  with_face: bool = False) -> list:
    """Every person on the padded frame as a pose_json.Person in its pixels; hands and face only when asked for.
    `files` lists the body file, then the hand file when `with_hands`, then the face file when `with_face`."""
    from modules.controlnet.preprocessors.openpose.pose_json import Person

    found = list(files.paths())
    body_path = found.pop(0)
    body_net = cache.get((body_path,), lambda states: build_body(states, body_path))
    bodies = detect_bodies(body_net, padded)
    hands: list = [(None, None)] * len(bodies)
    faces: list = [None] * len(bodies)
    if with_hands:
        from modules.controlnet.preprocessors.openpose.hand import detect_hands

        hand_path = found.pop(0)
        hand_net = cache.get((hand_path,), lambda states: build_hand(states, hand_path))
        hands = [detect_hands(hand_net, padded, body) for body in bodies]
    if with_face:
        from modules.controlnet.preprocessors.openpose.face import detect_face

        face_path = found.pop(0)
        face_net = cache.get((face_path,), lambda states: build_face(states, face_path))
        faces = [detect_face(face_net, padded, body) for body in bodies]
    return [Person(tuple(body), _points(left), _points(right), _points(face))
            for body, (left, right), face in zip(bodies, hands, faces)]


def _points(points: list | None) -> tuple | None:
    return tuple(points) if points else None


def openpose_poses(files: AnnotatorFiles, cache: NetworkCache, image: np.ndarray, p: Params,
                   with_hands: bool = False, with_face: bool = False,
                   with_bodies: bool = True) -> tuple[np.ndarray, dict]:
    """uint8 [H, W, 3] → (the pose map at the preprocessor resolution (short side), [h, w, 3]; the people as the
    extension's OpenPose JSON on the padded frame detection ran on, pose_json.py)."""
    from modules.controlnet.preprocessors.openpose.draw import draw_persons
    from modules.controlnet.preprocessors.openpose.pose_json import encode_poses

    img = scale_short_side(image, p.resolution)
    padded = pad_edges(img)  # detection runs on the padded frame, as in the extension
    people = detect_people(files, cache, padded, with_hands, with_face)
    canvas = draw_persons(padded.shape[0], padded.shape[1], people, with_bodies)
    return np.ascontiguousarray(canvas[:img.shape[0], :img.shape[1]]), encode_poses(people, *padded.shape[:2])


def openpose(files: AnnotatorFiles, cache: NetworkCache, image: np.ndarray, p: Params, with_hands: bool = False,
             with_face: bool = False, with_bodies: bool = True) -> np.ndarray:
    """uint8 [H, W, 3] → the pose map at the preprocessor resolution (short side), [h, w, 3]."""
    return openpose_poses(files, cache, image, p, with_hands, with_face, with_bodies)[0]
