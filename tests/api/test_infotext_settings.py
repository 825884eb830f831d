"""A1111's Infotext settings (add_*_to_info*): which entries the infotext of an API generation carries."""
import json

from modules.imaging.infotext import parse_infotext
from modules.pipeline.params import InfotextKeys, RunFacts, infotext_params
from modules.pipeline.request import GenerationRequest
from tests.api.conftest import TINY, make_client

OFF = {"add_model_name_to_info": False, "add_model_hash_to_info": False, "add_version_to_infotext": False}


def infotext_of(reply) -> dict:
    assert reply.status_code == 200, reply.text
    return parse_infotext(json.loads(reply.json()["info"])["infotexts"][0])


def test_model_and_version_entries_follow_the_settings(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as client:
        default = infotext_of(client.post("/sdapi/v1/txt2img", json=TINY))
        off = infotext_of(client.post("/sdapi/v1/txt2img", json={**TINY, "override_settings": OFF}))
    assert default["Model"] == tiny_checkpoint.stem and len(default["Model hash"]) == 10
    assert default["Version"] and "User" not in default
    assert not {"Model", "Model hash", "Version"} & set(off)
    assert off["Steps"] == "2" and off["Seed"] == "11"  # the rest is as before


def test_user_is_the_api_auth_user_when_asked(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint, "--api-auth", "ann:pw") as client:
        asked = {**TINY, "override_settings": {"add_user_name_to_info": True}}
        named = infotext_of(client.post("/sdapi/v1/txt2img", json=asked, auth=("ann", "pw")))
        unasked = infotext_of(client.post("/sdapi/v1/txt2img", json=TINY, auth=("ann", "pw")))
        spoofed = client.post("/sdapi/v1/txt2img", json={**asked, "user": "eve"}, auth=("ann", "pw"))
    assert named["User"] == "ann"
    assert "User" not in unasked
    assert "eve" not in json.dumps(spoofed.json())  # a payload never names the user


def test_no_user_without_authentication(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as client:
        asked = {**TINY, "override_settings": {"add_user_name_to_info": True}}
        fields = infotext_of(client.post("/sdapi/v1/txt2img", json=asked, auth=("ann", "pw")))
    assert "User" not in fields  # a Basic header without --api-auth proves nothing


def test_vae_entries_follow_their_keys():
    facts = RunFacts(sampler_label="Euler", model_name="m", model_hash="abcdef0123", vae_name="v.pt",
                     vae_hash="12345678", version="v1")
    req = GenerationRequest(user="bob")
    both = infotext_params(req, facts, 1, 1)
    assert (both["VAE"], both["VAE hash"], both["Version"]) == ("v.pt", "12345678", "v1") and "User" not in both
    keys = InfotextKeys(vae_name=False, vae_hash=False, user=True)
    none = infotext_params(req, RunFacts(**{**facts.__dict__, "keys": keys}), 1, 1)
    assert "VAE" not in none and "VAE hash" not in none
    assert list(none)[-2:] == ["Version", "User"] and none["User"] == "bob"  # A1111's order: Version, then User
    assert "User" not in infotext_params(GenerationRequest(), RunFacts(**{**facts.__dict__, "keys": keys}), 1, 1)


def test_keys_from_settings():
    keys = InfotextKeys.from_options({"add_vae_hash_to_info": False, "add_user_name_to_info": True})
    assert keys == InfotextKeys(vae_hash=False, user=True)
