"""GET /sdapi/v1/samplers and /schedulers list exactly A1111 1.10's set, with aliases and options, plus the
few-step rows of docs/few-step-models.md (TCD; the LCM and Trailing schedules)."""

SAMPLERS = ["DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a", "DPM++ 3M SDE", "Euler a",
            "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast", "DPM adaptive", "Restart", "DDIM", "DDIM CFG++",
            "PLMS", "UniPC", "LCM"] + ["TCD"]
SCHEDULERS = {"automatic": "Automatic", "uniform": "Uniform", "karras": "Karras", "exponential": "Exponential",
              "polyexponential": "Polyexponential", "sgm_uniform": "SGM Uniform", "kl_optimal": "KL Optimal",
              "align_your_steps": "Align Your Steps", "simple": "Simple", "normal": "Normal", "ddim": "DDIM",
              "beta": "Beta"} | {"lcm": "LCM", "trailing": "Trailing"}


def test_samplers_are_exactly_a1111s(client):
    rows = client.get("/sdapi/v1/samplers").json()
    assert sorted(r["name"] for r in rows) == sorted(SAMPLERS)
    by_name = {r["name"]: r for r in rows}
    assert "k_euler_a" in by_name["Euler a"]["aliases"] and "k_dpmpp_2m" in by_name["DPM++ 2M"]["aliases"]
    assert by_name["DPM++ 2M"]["options"]["scheduler"] == "karras"
    assert by_name["DPM++ 2M SDE"]["options"]["scheduler"] == "exponential"


def test_schedulers_are_exactly_a1111s(client):
    rows = client.get("/sdapi/v1/schedulers").json()
    assert {r["name"]: r["label"] for r in rows} == SCHEDULERS
    assert all(set(r) == {"name", "label", "aliases", "default_rho", "need_inner_model"} for r in rows)
