"""Easel's annotator networks (depth, OpenPose body, hand and face) against sd-webui-controlnet's own code
(tests/controlnet/annotator_oracle.py), on the same random-weight files in the original layouts: outputs agree to
1e-4 of their scale in float32."""
from __future__ import annotations

import torch

from modules.controlnet.preprocessors.depth.midas import build_midas
from modules.controlnet.preprocessors.openpose import build_body, build_face, build_hand
from tests.controlnet import annotator_oracle
from tests.fixtures.annotator_weights import midas_state, openpose_state

TOLERANCE = 1e-4


def close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape
    scale = theirs.abs().max().item()
    assert scale > 0
    assert (ours - theirs).abs().max().item() <= TOLERANCE * max(scale, 1.0)


def test_openpose_body_and_hand_networks_match_the_extension():
    model = annotator_oracle.openpose_models()
    torch.manual_seed(0)
    x = torch.rand(1, 3, 48, 40) - 0.5  # BGR/256 − 0.5, as both feed it
    for kind, theirs_cls, build in (("body", model.bodypose_model, build_body),
                                    ("hand", model.handpose_model, build_hand)):
        flat = openpose_state(kind, seed=5)
        theirs = theirs_cls().eval()
        theirs.load_state_dict({k: flat[k.split(".", 1)[1]] for k in theirs.state_dict()})  # the extension's transfer
        ours = build([flat], "test.pth")
        with torch.no_grad():
            a, b = theirs(x), ours(x)
        for t, o in zip(a if kind == "body" else (a,), b if kind == "body" else (b,)):
            close(o, t)


def test_openpose_face_network_matches_the_extension():
    face = annotator_oracle.openpose_face()
    flat = openpose_state("face", seed=6)
    theirs = face.FaceNet().eval()
    theirs.load_state_dict(flat)  # the extension loads facenet.pth as it is
    ours = build_face([flat], "facenet.pth")
    torch.manual_seed(0)
    x = torch.rand(1, 3, 48, 48) - 0.5
    with torch.no_grad():
        close(ours(x), theirs(x)[-1])  # the extension reads the last stage's maps


def test_midas_dpt_hybrid_matches_the_extension():
    dpt = annotator_oracle.midas_dpt()
    state = midas_state(seed=7)
    theirs = dpt.DPTDepthModel(path=None, backbone="vitb_rn50_384", non_negative=True).eval()
    theirs.load_state_dict(state)  # strict: the fixture holds exactly the file's keys
    ours = build_midas([state], "test.pt")
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 128) * 2 - 1
    with torch.no_grad():
        close(ours(x), theirs(x))
