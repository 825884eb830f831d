"""Prompts from file or textbox: one generation per line. A line is a prompt, or A1111's command-line syntax:
`--prompt "a cat" --negative_prompt "blurry" --steps 10 --cfg_scale 5 --seed 3 --sampler_name "Euler a"`.
Written only against A1111's script API; the line parser is a pure function (doctests below)."""
from __future__ import annotations

import copy
import random
import shlex

import gradio as gr

import modules.scripts as scripts
from modules import sd_models, sd_samplers
from modules.arg_checks import choice, field, text
from modules.processing import Processed, process_images
from modules.shared import state


def process_string_tag(tag):
    return tag


def process_int_tag(tag):
    return int(tag)


def process_float_tag(tag):
    return float(tag)


def process_boolean_tag(tag):
    return tag == "true"


def process_styles_tag(tag):
    return [s.strip() for s in tag.split(",") if s.strip()]


prompt_tags = {
    "sd_model": process_string_tag, "outpath_samples": process_string_tag, "outpath_grids": process_string_tag,
    "prompt_for_display": process_string_tag, "prompt": process_string_tag, "negative_prompt": process_string_tag,
    "styles": process_styles_tag, "seed": process_int_tag, "subseed_strength": process_float_tag,
    "subseed": process_int_tag, "seed_resize_from_h": process_int_tag, "seed_resize_from_w": process_int_tag,
    "sampler_index": process_int_tag, "sampler_name": process_string_tag, "scheduler": process_string_tag,
    "batch_size": process_int_tag, "n_iter": process_int_tag, "steps": process_int_tag,
    "cfg_scale": process_float_tag, "width": process_int_tag, "height": process_int_tag,
    "restore_faces": process_boolean_tag, "tiling": process_boolean_tag, "do_not_save_samples": process_boolean_tag,
    "do_not_save_grid": process_boolean_tag, "denoising_strength": process_float_tag,
}
TEXT_TAGS = ("prompt", "negative_prompt")


def cmdargs(line: str) -> dict:
    """A line's `--tag value` pairs, typed; `--prompt` and `--negative_prompt` take every word up to the next
    `--tag`, so they need no quotes.

    >>> cmdargs('--prompt a red cube --steps 10 --cfg_scale 5.5 --negative_prompt "blurry, dark"')
    {'prompt': 'a red cube', 'steps': 10, 'cfg_scale': 5.5, 'negative_prompt': 'blurry, dark'}
    >>> cmdargs('--seed 3 --styles "one, two" --tiling true --sampler_name "Euler a"')
    {'seed': 3, 'styles': ['one', 'two'], 'tiling': True, 'sampler_name': 'Euler a'}
    >>> cmdargs('--steps')
    Traceback (most recent call last):
    ValueError: missing argument for command line option --steps
    >>> cmdargs('--colour red')
    Traceback (most recent call last):
    ValueError: unknown commandline option: --colour
    >>> cmdargs('--steps ten')
    Traceback (most recent call last):
    ValueError: --steps: invalid literal for int() with base 10: 'ten'
    """
    words = shlex.split(line)
    res, pos = {}, 0
    while pos < len(words):
        arg = words[pos]
        if not arg.startswith("--"):
            raise ValueError(f'must start with "--": {arg}')
        if pos + 1 >= len(words):
            raise ValueError(f"missing argument for command line option {arg}")
        tag = arg[2:]
        if tag in TEXT_TAGS:
            pos += 1
            text = [words[pos]]
            pos += 1
            while pos < len(words) and not words[pos].startswith("--"):
                text.append(words[pos])
                pos += 1
            res[tag] = " ".join(text)
            continue
        convert = prompt_tags.get(tag)
        if convert is None:
            raise ValueError(f"unknown commandline option: {arg}")
        try:
            res[tag] = convert(words[pos + 1])
        except ValueError as e:
            raise ValueError(f"{arg}: {e}") from None
        pos += 2
    return res


def resolve_names(args: dict) -> dict:
    """Sampler and checkpoint names as the App knows them; unknown ones are refused with the line's text."""
    if "sampler_name" in args:
        name = sd_samplers.samplers_map.get(args["sampler_name"].lower())
        if name is None:
            raise ValueError(f"unknown sampler {args['sampler_name']!r}")
        args["sampler_name"] = name
    if "sampler_index" in args:
        args["sampler_name"] = sd_samplers.samplers[args.pop("sampler_index")].name
    if "sd_model" in args:
        info = sd_models.get_closet_checkpoint_match(args["sd_model"])
        if info is None:
            raise ValueError(f"unknown checkpoint {args['sd_model']!r}")
        args["sd_model"] = info.name
    return args


def parse_lines(text: str) -> list[dict]:
    """One job per non-empty line; a line that does not parse as options is used as a prompt (A1111)."""
    jobs = []
    for line in (x.strip() for x in (text or "").splitlines()):
        if not line:
            continue
        if "--" not in line:
            jobs.append({"prompt": line})
            continue
        try:
            jobs.append(resolve_names(cmdargs(line)))
        except ValueError as e:
            print(f"Prompts from file: line {line!r} is used as a prompt: {e}")
            jobs.append({"prompt": line})
    return jobs


def load_prompt_file(file):
    if file is None:
        return None, gr.update()
    if isinstance(file, bytes):
        data = file
    else:
        with open(getattr(file, "name", file), "rb") as f:
            data = f.read()
    return None, "\n".join(x.strip() for x in data.decode("utf8", errors="ignore").split("\n"))


class Script(scripts.Script):
    def title(self):
        return "Prompts from file or textbox"

    def ui(self, is_img2img):
        checkbox_iterate = gr.Checkbox(label="Iterate seed every line", value=False,
                                       elem_id=self.elem_id("checkbox_iterate"))
        checkbox_iterate_batch = gr.Checkbox(label="Use same random seed for all lines", value=False,
                                             elem_id=self.elem_id("checkbox_iterate_batch"))
        prompt_position = gr.Radio(label="Insert prompts at the", choices=["start", "end"], value="start",
                                   elem_id=self.elem_id("prompt_position"))
        prompt_txt = gr.Textbox(label="List of prompt inputs", lines=2, elem_id=self.elem_id("prompt_txt"))
        file = gr.File(label="Upload prompt inputs", type="binary", elem_id=self.elem_id("file"))
        file.change(fn=load_prompt_file, inputs=[file], outputs=[file, prompt_txt], show_progress=False)
        return [checkbox_iterate, checkbox_iterate_batch, prompt_position, prompt_txt]

    def run(self, p, checkbox_iterate, checkbox_iterate_batch, prompt_position, prompt_txt):
        prompt_position = choice(prompt_position, field(2, "Insert prompts at the"), ["start", "end"])
        prompt_txt = text(prompt_txt, field(3, "List of prompt inputs"))
        jobs = parse_lines(prompt_txt)
        p.do_not_save_grid = True
        print(f"Will process {len(jobs)} lines in {sum(j.get('n_iter', p.n_iter) for j in jobs)} jobs.")
        if (checkbox_iterate or checkbox_iterate_batch) and p.seed == -1:
            p.seed = int(random.randrange(4294967294))
        state.job_count = sum(j.get("n_iter", p.n_iter) for j in jobs)
        images, all_prompts, all_seeds, infotexts = [], [], [], []
        for args in jobs:
            if state.interrupted:
                break
            copy_p = copy.copy(p)
            copy_p.override_settings = dict(p.override_settings or {})
            for key, value in args.items():
                if key == "sd_model":
                    copy_p.override_settings["sd_model_checkpoint"] = value
                else:
                    setattr(copy_p, key, value)
            for key in ("prompt", "negative_prompt"):
                if args.get(key) and getattr(p, key):
                    parts = (args[key], getattr(p, key)) if prompt_position == "start" else (getattr(p, key), args[key])
                    setattr(copy_p, key, " ".join(parts))
            processed = process_images(copy_p)
            images += processed.images
            all_prompts += processed.all_prompts
            all_seeds += processed.all_seeds
            infotexts += processed.infotexts
            if checkbox_iterate:
                p.seed = p.seed + (p.batch_size * p.n_iter)
        return Processed(p, images, p.seed, "", all_prompts=all_prompts, all_seeds=all_seeds, infotexts=infotexts)
