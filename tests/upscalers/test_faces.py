"""Face restoration parts without real weights: RetinaFace in facexlib's key layout, anchors and decoding,
alignment maths, paste-back, the restorer table (spandrel identifies a random-weight GFPGAN) and the messages
for missing files."""
import numpy as np
import pytest
import torch
from PIL import Image

from modules.errors import InvalidInput, ModelLoadError
from modules.upscalers.faces import restorers as restorers_module
from modules.upscalers.faces.align import (FFHQ_TEMPLATE, align_matrix, apply_affine, crop_box, invert_affine,
                                           paste_face, restore_faces, similarity_transform, warp_face)
from modules.upscalers.faces.detect import anchors, decode_boxes, decode_landmarks, detect_faces
from modules.upscalers.faces.restorers import KINDS, FaceRestorers, load_restorer_state, run_restorer
from modules.upscalers.faces.retinaface import RetinaFace, load_retinaface, variant_of

KIND = {k.name: k for k in KINDS}


def save_detector(folder, variant="mobilenet0.25", seed=0):
    """A RetinaFace with random weights saved as facexlib publishes it: DataParallel's `module.` prefix, no
    BatchNorm counters."""
    torch.manual_seed(seed)
    net = RetinaFace(variant)
    folder.mkdir(parents=True, exist_ok=True)
    name = "detection_Resnet50_Final.pth" if variant == "resnet50" else "detection_mobilenet0.25_Final.pth"
    state = {f"module.{k}": v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, folder / name)
    return folder / name, net


def smooth_image(size=(128, 96)):
    y, x = np.mgrid[0:size[1], 0:size[0]]
    rgb = np.stack([x * 255 / size[0], y * 255 / size[1], (x + y) * 127 / (size[0] + size[1]) + 64], -1)
    return Image.fromarray(rgb.astype(np.uint8))


def face_points(centre=(64, 48), scale=0.1):
    """5 landmarks of an upright face: the FFHQ template scaled by `scale` around `centre`."""
    return (FFHQ_TEMPLATE - 256) * scale + np.array(centre, dtype=np.float64)


def test_retinaface_file_loads_back_through_the_service_and_detects_on_128px(tmp_path):
    path, reference = save_detector(tmp_path / "GFPGAN")
    faces = FaceRestorers(tmp_path)
    assert faces.detector_file() == path
    net = faces.detector()
    assert net.variant == "mobilenet0.25"
    for key, value in reference.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(net.state_dict()[key], value), key
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8))
    x = torch.zeros(1, 3, 128, 128)
    boxes, probs, marks = net(x)
    count = (16 * 16 + 8 * 8 + 4 * 4) * 2  # strides 8/16/32, two anchors per cell
    assert boxes.shape == (1, count, 4) and probs.shape == (1, count, 2) and marks.shape == (1, count, 10)
    assert torch.allclose(probs.sum(-1), torch.ones(1, count))
    found = detect_faces(net, image, confidence=0.0, min_side=128, min_eye_distance=0.0)
    assert found and len(found) <= count
    for face in found:
        assert len(face.box) == 4 and face.landmarks.shape == (5, 2) and 0.0 <= face.score <= 1.0
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)


def test_resnet50_layout_is_recognised_and_bad_files_are_refused(tmp_path):
    torch.manual_seed(0)
    state = RetinaFace("resnet50").state_dict()
    assert variant_of(state) == "resnet50" and "body.layer4.2.conv3.weight" in state
    assert "fpn.output3.0.weight" in state and "ssh3.conv7x7_3.1.running_var" in state
    assert load_retinaface({"state_dict": state}, "x").variant == "resnet50"
    with pytest.raises(ModelLoadError, match="not a RetinaFace"):
        load_retinaface({"conv.weight": torch.zeros(1)}, "some.pth")
    broken = dict(state, **{"ClassHead.0.conv1x1.weight": torch.zeros(3, 3, 1, 1)})
    with pytest.raises(ModelLoadError, match="do not fit"):
        load_retinaface(broken, "broken.pth")


def test_anchors_and_zero_offsets_decode_to_the_anchor_boxes():
    priors = anchors(64, 32)
    assert priors.shape == ((8 * 4 + 4 * 2 + 2 * 1) * 2, 4)
    assert priors[:2, 2:].tolist() == [[0.5, 0.25], [1.0, 0.5]]  # 16 and 32 px anchors at the first cell
    boxes = decode_boxes(torch.zeros(len(priors), 4), priors)
    assert torch.allclose((boxes[:, :2] + boxes[:, 2:]) / 2, priors[:, :2])
    assert torch.allclose(boxes[:, 2:] - boxes[:, :2], priors[:, 2:])
    points = decode_landmarks(torch.zeros(len(priors), 10), priors)
    assert torch.allclose(points, priors[:, None, :2].expand(-1, 5, 2))


def test_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 200, (5, 2))
    angle, scale, shift = 0.4, 1.7, np.array([12.0, -30.0])
    known = np.array([[scale * np.cos(angle), -scale * np.sin(angle), shift[0]],
                      [scale * np.sin(angle), scale * np.cos(angle), shift[1]]])
    found = similarity_transform(src, apply_affine(known, src))
    assert np.allclose(found, known, atol=1e-9)
    noisy = similarity_transform(src, apply_affine(known, src) + rng.normal(0, 0.01, (5, 2)))
    assert np.allclose(noisy, known, atol=0.05)
    assert np.allclose(apply_affine(invert_affine(known), apply_affine(known, src)), src)
    assert np.allclose(apply_affine(align_matrix(face_points(), 512), face_points()), FFHQ_TEMPLATE, atol=1e-6)


def test_warp_then_inverse_warp_returns_the_image_inside_the_crop():
    image = smooth_image()
    points = face_points(scale=0.12)
    matrix = align_matrix(points)
    crop = warp_face(image, matrix)
    assert crop.size == (512, 512)
    # the crop's centre reads the image where the template centre maps back to
    cx, cy = apply_affine(invert_affine(matrix), np.array([[256.0, 256.0]]))[0]
    assert np.abs(np.asarray(crop, float)[256, 256] - np.asarray(image, float)[int(cy), int(cx)]).max() <= 4
    back = np.asarray(paste_face(image, crop, matrix), float)
    left, top, right, bottom = crop_box(matrix, 512, image.size)
    inner = (slice(top + 12, bottom - 12), slice(left + 12, right - 12))
    assert np.abs(back[inner] - np.asarray(image, float)[inner]).max() <= 2


def test_paste_back_changes_only_pixels_inside_the_face_box():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8))
    points = face_points(centre=(40, 40), scale=0.06)
    out = restore_faces(image, [points], lambda crop: Image.new("RGB", crop.size, (255, 0, 255)))
    left, top, right, bottom = crop_box(align_matrix(points), 512, image.size)
    changed = np.any(np.asarray(out) != np.asarray(image), axis=-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 100
    assert xs.min() >= left and xs.max() < right and ys.min() >= top and ys.max() < bottom
    assert right - left < 60 and bottom - top < 60  # the box is the face's, not the image
    centre = np.asarray(out)[40, 40]
    assert tuple(centre) == (255, 0, 255)


class StandIn(torch.nn.Module):
    """A restorer stand-in: negates the crop (in [-1, 1]) and records the keyword arguments it was called with."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.calls = []

    def forward(self, x, **kwargs):
        self.calls.append(kwargs)
        return (-x * self.scale, None)


def test_restorers_are_called_as_a1111_calls_them():
    crop = Image.new("RGB", (512, 512), (255, 0, 128))
    for name, expected in (("CodeFormer", {"weight": 0.3, "adain": True}),
                           ("GFPGAN", {"return_rgb": False, "randomize_noise": False}), ("RestoreFormer", {})):
        net = StandIn()
        out = run_restorer(net, KIND[name], crop, 0.3)
        assert net.calls == [expected] and out.getpixel((0, 0)) == (0, 255, 127)


def test_a_random_weight_gfpgan_is_identified_by_spandrel():
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(0)
    state = GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None,
                   fix_decoder=False, num_mlp=8, input_is_latent=True, different_w=True, narrow=1,
                   sft_half=True).state_dict()
    net = load_restorer_state({"params_ema": state}, KIND["GFPGAN"], "GFPGANv1.4.pth")
    assert type(net).__name__ == "GFPGANv1Clean" and not net.training
    with pytest.raises(ModelLoadError, match="is a GFPGAN model, not RestoreFormer.*models/GFPGAN"):
        load_restorer_state(state, KIND["RestoreFormer"], "RestoreFormer.pth")
    with pytest.raises(ModelLoadError, match="does not recognise"):
        load_restorer_state({"foo.weight": torch.zeros(2)}, KIND["GFPGAN"], "foo.pth")


def test_missing_files_are_named_with_their_folders(tmp_path, monkeypatch):
    faces = FaceRestorers(tmp_path)
    assert faces.available() == [] and faces.api_entries() == []
    with pytest.raises(InvalidInput) as error:
        faces.require("GFPGAN", "gfpgan_visibility")
    text = error.value.message
    assert text.startswith("gfpgan_visibility: face restoration with GFPGAN is not available")
    assert "GFPGANv1.4.pth" in text and str(tmp_path / "GFPGAN") in text
    assert "detection_Resnet50_Final.pth" in text and str(tmp_path / "facedetect") in text
    with pytest.raises(InvalidInput, match="unknown face restoration model 'Gfpgan2'.*CodeFormer, GFPGAN"):
        faces.require("Gfpgan2", "face_restoration_model")
    (tmp_path / "Codeformer").mkdir()
    (tmp_path / "Codeformer" / "codeformer-v0.1.0.pth").write_bytes(b"x")
    (tmp_path / "Codeformer" / "detection_Resnet50_Final.pth").write_bytes(b"x")
    (tmp_path / "Codeformer" / "parsing_parsenet.pth").write_bytes(b"x")
    assert [k.name for k in faces.available()] == ["CodeFormer"]
    assert faces.restorer_file(KIND["CodeFormer"]).name == "codeformer-v0.1.0.pth"
    monkeypatch.setattr(restorers_module, "extra_registry", lambda: None)
    with pytest.raises(InvalidInput, match="spandrel-extra-arches.*S-Lab"):
        faces.require("CodeFormer", "codeformer_visibility")
    monkeypatch.setattr(restorers_module, "extra_registry", lambda: object())
    assert faces.require("codeformer", "codeformer_visibility").name == "CodeFormer"


def test_a_faceless_image_comes_back_unchanged(tmp_path, monkeypatch):
    (tmp_path / "GFPGAN").mkdir()
    (tmp_path / "GFPGAN" / "GFPGANv1.4.pth").write_bytes(b"x")
    (tmp_path / "GFPGAN" / "detection_mobilenet0.25_Final.pth").write_bytes(b"x")
    faces = FaceRestorers(tmp_path)
    monkeypatch.setattr(faces, "detect", lambda image: [])
    monkeypatch.setattr(faces, "restorer", lambda kind: pytest.fail("no face, no restorer"))
    image = smooth_image()
    result = faces.restore(image, "GFPGAN")
    assert result.faces == [] and np.array_equal(np.asarray(result.image), np.asarray(image))
