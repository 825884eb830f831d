"""The openpose family's pose JSON: /controlnet/detect answers "poses" for it only; the JSON is the extension's (its
own encoder, tests/controlnet/annotator_oracle.py, or hand-computed values); /controlnet/render_openpose_json draws
it back into the detected map; malformed entries are 422s naming the field."""
from __future__ import annotations

import ast
import base64
import importlib
import io
from typing import Any, cast

import numpy as np
import pytest
import webuiapi
from PIL import Image

from modules.controlnet.preprocessors import default_registry
from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles, NetworkCache
from modules.controlnet.preprocessors.openpose import detect_people, openpose, openpose_poses
from modules.controlnet.preprocessors.openpose.body import Keypoint
from modules.controlnet.preprocessors.openpose.draw import draw_persons
from modules.controlnet.preprocessors.openpose.pose_json import Person, decode_poses, encode_poses
from modules.controlnet.preprocessors.registry import Params
from modules.errors import InvalidInput
from tests.api.conftest import make_client
from tests.controlnet import annotator_oracle
from tests.controlnet.test_preprocessors_openpose import BIG, PlantedCache
from tests.fixtures.annotator_weights import write_annotators

FILES = ("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth")


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def unb64(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


def planted_full(tmp_path, width: int = 448):
    """openpose_full's (map, JSON) on a 512×`width` black image with the planted body, hand and face networks of
    tests/controlnet/test_preprocessors_openpose.py: one person, both hands, a face."""
    (tmp_path / "openpose").mkdir(exist_ok=True)
    for name in FILES:
        (tmp_path / "openpose" / name).write_bytes(b"")  # only looked up: the planted cache builds nothing
    files = AnnotatorFiles("openpose", FILES, (tmp_path,))
    image = np.zeros((512, width, 3), np.uint8)
    cache = cast(NetworkCache, PlantedCache())  # stands in for the registry's cache
    return openpose_poses(files, cache, image, Params(resolution=min(512, width)), with_hands=True,
                          with_face=True), files, image


def test_only_the_openpose_family_reports_poses():
    registry = default_registry()
    for pre in registry.all():
        assert (pre.run_with_poses is not None) == ("openpose" in pre.name), pre.name
    assert sum(p.run_with_poses is not None for p in registry.all()) == 5


def test_detected_pose_redraws_to_the_detected_map(tmp_path):
    (detected, pose), files, image = planted_full(tmp_path)
    assert detected.shape == (512, 448, 3)
    assert pose["canvas_height"] == 512 and pose["canvas_width"] == 448 and pose["animals"] == []
    (person,) = pose["people"]
    assert len(person["pose_keypoints_2d"]) == 54 and len(person["face_keypoints_2d"]) == 3 * 70
    assert len(person["hand_left_keypoints_2d"]) == len(person["hand_right_keypoints_2d"]) == 63
    assert all(0 < v < 1 for v in person["pose_keypoints_2d"][0::3] + person["pose_keypoints_2d"][1::3])
    assert set(person["pose_keypoints_2d"][2::3]) == {1.0}
    people, h, w = decode_poses(pose)
    found = detect_people(files, PlantedCache(), image, with_hands=True, with_face=True)  # 448 wide: no padding
    xy = lambda points: [(p.x, p.y) for p in points]  # noqa: E731 (detection's scores are not in the JSON)
    for mine, theirs in zip(people, found, strict=True):  # pixels back, exactly (hands and face through float32)
        assert xy(mine.body) == xy(theirs.body) and xy(mine.face) == xy(theirs.face)
        assert xy(mine.left_hand) == xy(theirs.left_hand) and xy(mine.right_hand) == xy(theirs.right_hand)
    redrawn = draw_persons(h, w, people)
    assert (redrawn[:512, :448] == detected).all() and len({tuple(c) for c in detected.reshape(-1, 3)}) > 10
    # the same map the plain preprocessor draws
    assert (openpose(files, PlantedCache(), image, Params(resolution=448), with_hands=True, with_face=True)
            == detected).all()


def test_encoding_by_hand():
    person = Person((Keypoint(64, 32), None) + (None,) * 16, left_hand=(Keypoint(-1.0, 3.0),) + (None,) * 20,
                    face=(Keypoint(37.0, 21.0),))
    pose = encode_poses([person], 64, 448)
    # hand and face values are float32 quotients, as the extension's arrays hold them (37 / 448 = 0.08258928571…)
    assert pose == {"people": [{"pose_keypoints_2d": [0.14285714285714285, 0.5, 1.0] + [0.0] * 51,
                                "face_keypoints_2d": [0.0825892835855484, 0.328125, 1.0],
                                "hand_left_keypoints_2d": [-0.0022321429569274187, 0.046875, 1.0] + [0.0] * 60,
                                "hand_right_keypoints_2d": None}],
                    "animals": [], "canvas_height": 64, "canvas_width": 448}
    people, _, _ = decode_poses(pose)
    assert people[0].body[0] == Keypoint(64.0, 32.0) and people[0].body[1:] == (None,) * 17
    assert people[0].face == (Keypoint(37.0, 21.0),) and people[0].left_hand[0] == Keypoint(-1.0, 3.0)
    assert people[0].left_hand[1:] == (None,) * 20 and people[0].right_hand is None


def extension_codec():
    """The extension's encode_poses_as_json / decode_json_as_poses and its types, read from the oracle's copy of
    annotator/openpose (its __init__ imports A1111's `modules`, so only these two pure functions are taken)."""
    folder = annotator_oracle.ORACLE / "annotator" / "openpose"
    if not (folder / "types.py").is_file():
        pytest.skip(f"no sd-webui-controlnet oracle at {folder} (see tests/controlnet/annotator_oracle.py)")
    annotator_oracle._package("easel_oracle_openpose", folder)  # types.py needs only typing
    types = importlib.import_module("easel_oracle_openpose.types")
    source = (folder / "__init__.py").read_text()
    wanted = [node for node in ast.parse(source).body
              if isinstance(node, ast.FunctionDef) and node.name in ("encode_poses_as_json", "decode_json_as_poses")]
    assert len(wanted) == 2
    import typing

    namespace = {**{k: getattr(typing, k) for k in ("Tuple", "List", "Callable", "Union", "Optional")},
                 "Keypoint": types.Keypoint, "BodyResult": types.BodyResult, "HumanPoseResult": types.HumanPoseResult,
                 "HandResult": types.HandResult, "FaceResult": types.FaceResult,
                 "AnimalPoseResult": types.AnimalPoseResult}
    exec(compile(ast.Module(wanted, type_ignores=[]), "extension_openpose_codec", "exec"), namespace)
    return types, namespace["encode_poses_as_json"], namespace["decode_json_as_poses"]


def test_json_matches_the_extension_encoder(tmp_path):
    types, encode, decode = extension_codec()
    (_, pose), _, _ = planted_full(tmp_path)
    people, h, w = decode_poses(pose)

    def theirs(points, precise):  # as the extension's detect_poses normalises: body float64, hands and face float32
        if points is None:
            return None
        if precise:
            return [None if p is None else types.Keypoint(p.x / float(w), p.y / float(h)) for p in points]
        xy = np.array([(p.x, p.y) for p in points], np.float32)
        return [types.Keypoint(x, y) for x, y in zip(xy[:, 0] / float(w), xy[:, 1] / float(h))]

    results = [types.HumanPoseResult(types.BodyResult(theirs(p.body, True)), theirs(p.left_hand, False),
                                     theirs(p.right_hand, False), theirs(p.face, False)) for p in people]
    assert encode(results, [], h, w) == pose
    decoded, _, height, width = decode(pose)
    assert (height, width) == (512, 448)
    for mine, ref in zip(people[0].body, decoded[0].body.keypoints):
        assert abs(mine.x - ref.x * width) < 1e-6 and abs(mine.y - ref.y * height) < 1e-6


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("pose-api")
    write_annotators(root / "models" / "annotator", which=("body",))
    with make_client(root, tiny_checkpoint) as c:
        yield c


def picture(h: int = 80, w: int = 120) -> Image.Image:
    return Image.fromarray((np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8))


def test_detect_answers_poses_for_openpose_only(client):
    body = {"controlnet_module": "openpose", "controlnet_input_images": [b64(picture()), b64(picture(64, 64))],
            "controlnet_processor_res": 64}
    out = client.post("/controlnet/detect", json=body).json()
    assert out["info"] == "Success" and len(out["images"]) == len(out["poses"]) == 2
    assert [(p["canvas_height"], p["canvas_width"]) for p in out["poses"]] == [(64, 128), (64, 64)]
    redrawn = client.post("/controlnet/render_openpose_json", json=out["poses"]).json()
    assert redrawn["info"] == "Success"
    for drawn, detected in zip(redrawn["images"], out["images"]):
        detected = unb64(detected)
        assert (unb64(drawn)[:detected.shape[0], :detected.shape[1]] == detected).all()
    canny = client.post("/controlnet/detect", json={**body, "controlnet_module": "canny"}).json()
    assert "poses" not in canny and len(canny["images"]) == 2


def test_webuiapi_controlnet_detect_sees_the_poses(client):
    api = webuiapi.WebUIApi()

    class Session:  # webuiapi's requests session, answered by the test client
        def post(self, url, json):
            return client.post("/" + url.split("/", 3)[3], json=json)

    api.session = Session()
    result = api.controlnet_detect([picture(64, 64)], module="openpose", processor_res=64)
    assert result.image.size == (64, 64) and result.json["poses"][0]["canvas_width"] == 64


def test_render_draws_a_pose_sent_in_pixels_or_fractions(client):
    person = Person(tuple(Keypoint(float(x), float(y)) for x, y in BIG))
    expected = draw_persons(512, 448, [person])
    pixels = {"people": [{"pose_keypoints_2d": [v for x, y in BIG for v in (x, y, 1.0)]}],
              "canvas_height": 512, "canvas_width": 448}
    fractions = encode_poses([person], 512, 448)
    out = client.post("/controlnet/render_openpose_json", json=[pixels, fractions]).json()
    assert [(unb64(image) == expected).all() for image in out["images"]] == [True, True]
    assert client.post("/controlnet/render_openpose_json", json=[]).json() == {"info": "No pose data detected."}


GOOD: dict[str, Any] = {"people": [{"pose_keypoints_2d": [0.5, 0.5, 1.0] * 18}], "canvas_height": 64,
                        "canvas_width": 64}


@pytest.mark.parametrize("change, field", [
    ({"people": [{"pose_keypoints_2d": [0.5] * 55}]}, "pose_data[1].people[0].pose_keypoints_2d"),
    ({"people": [{"pose_keypoints_2d": [0.5, 0.5, 1.0] * 17}]}, "pose_data[1].people[0].pose_keypoints_2d"),
    ({"people": [{"hand_left_keypoints_2d": [0.5] * 63}]}, "pose_data[1].people[0].pose_keypoints_2d"),
    ({"people": [{**GOOD["people"][0], "hand_right_keypoints_2d": [0.5] * 62}]},
     "pose_data[1].people[0].hand_right_keypoints_2d"),
    ({"people": [{**GOOD["people"][0], "face_keypoints_2d": ["a", 1, 1]}]}, "pose_data[1].people[0].face_keypoints_2d"),
    ({"canvas_width": 0}, "pose_data[1].canvas_width"),
    ({"canvas_height": "tall"}, "pose_data[1].canvas_height"),
    ({"people": {"pose_keypoints_2d": []}}, "pose_data[1].people"),
    ({"animals": [[0.5, 0.5, 1.0]]}, "pose_data[1].animals"),
])
def test_malformed_entries_are_422_naming_the_field(client, change, field):
    answer = client.post("/controlnet/render_openpose_json", json=[GOOD, {**GOOD, **change}])
    assert answer.status_code == 422 and field in answer.text, answer.text


def test_non_finite_huge_and_far_values_are_refused():
    with pytest.raises(InvalidInput, match=r"pose\.people\[0\]\.pose_keypoints_2d: .*not finite"):
        decode_poses({**GOOD, "people": [{"pose_keypoints_2d": [float("nan"), 0.5, 1.0] * 18}]})
    with pytest.raises(InvalidInput, match=r"pose\.people\[0\]\.pose_keypoints_2d: .*out of range"):
        decode_poses({**GOOD, "people": [{"pose_keypoints_2d": [1e30, 5.0, 1.0] * 18}]})  # Pillow would fail
    with pytest.raises(InvalidInput, match=r"pose\.canvas_height: nan is not"):
        decode_poses({**GOOD, "canvas_height": float("nan")})  # Python's JSON reader takes NaN
    with pytest.raises(InvalidInput, match="too large"):
        decode_poses({**GOOD, "canvas_height": 16384, "canvas_width": 16384})
    with pytest.raises(InvalidInput, match=r"^pose: expected an object"):
        decode_poses([GOOD])
