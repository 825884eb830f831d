"""Prompt matrix: `base | part one | part two` makes one image per combination of the optional parts (2^n images)
and a grid labelled with which parts each image has. Written only against A1111's script API."""
from __future__ import annotations

import math

import gradio as gr

import modules.scripts as scripts
from modules import images, processing
from modules.arg_checks import choice, field, number
from modules.processing import process_images
from modules.shared import opts, state


def matrix_prompts(prompt: str, put_at_start: bool = False, delimiter: str = ", ") -> list[str]:
    """Every combination of the `|`-separated optional parts with the base part; combination k has part i when
    bit i of k is set. Parts are trimmed (A1111 keeps the spaces around the base part).

    >>> matrix_prompts("a cat | red | big")
    ['a cat', 'a cat, red', 'a cat, big', 'a cat, red, big']
    >>> matrix_prompts("cat|hat,", put_at_start=True, delimiter=" ")
    ['cat', 'hat cat']
    >>> matrix_prompts("no parts")
    ['no parts']
    """
    parts = prompt.split("|")
    base = parts[0].strip()
    out = []
    for combination in range(2 ** (len(parts) - 1)):
        chosen = [text.strip().strip(",") for n, text in enumerate(parts[1:]) if combination & (1 << n)]
        out.append(delimiter.join(chosen + [base] if put_at_start else [base] + chosen))
    return out


class Script(scripts.Script):
    def title(self):
        return "Prompt matrix"

    def ui(self, is_img2img):
        gr.HTML("<br />")
        with gr.Row():
            with gr.Column():
                put_at_start = gr.Checkbox(label="Put variable parts at start of prompt", value=False,
                                           elem_id=self.elem_id("put_at_start"))
                different_seeds = gr.Checkbox(label="Use different seed for each picture", value=False,
                                              elem_id=self.elem_id("different_seeds"))
            with gr.Column():
                prompt_type = gr.Radio(["positive", "negative"], label="Select prompt", value="positive",
                                       elem_id=self.elem_id("prompt_type"))
                variations_delimiter = gr.Radio(["comma", "space"], label="Select joining char", value="comma",
                                                elem_id=self.elem_id("variations_delimiter"))
            with gr.Column():
                margin_size = gr.Slider(label="Grid margins (px)", minimum=0, maximum=500, value=0, step=2,
                                        elem_id=self.elem_id("margin_size"))
        return [put_at_start, different_seeds, prompt_type, variations_delimiter, margin_size]

    def run(self, p, put_at_start, different_seeds, prompt_type, variations_delimiter, margin_size):
        prompt_type = choice(prompt_type, field(2, "Select prompt"), ["positive", "negative"])
        variations_delimiter = choice(variations_delimiter, field(3, "Select joining char"), ["comma", "space"])
        margin_size = number(margin_size, field(4, "Grid margins (px)"), 0, 500, whole=True)
        processing.fix_seed(p)
        prompt = p.prompt if prompt_type == "positive" else p.negative_prompt
        original_prompt = prompt[0] if isinstance(prompt, list) else prompt
        positive_prompt = p.prompt[0] if isinstance(p.prompt, list) else p.prompt
        parts = original_prompt.split("|")
        all_prompts = matrix_prompts(original_prompt, put_at_start, ", " if variations_delimiter == "comma" else " ")
        if len(all_prompts) % p.batch_size:
            p.batch_size = 1  # every batch full, so each combination is made exactly once
        p.n_iter = math.ceil(len(all_prompts) / p.batch_size)
        p.do_not_save_grid = True
        print(f"Prompt matrix will create {len(all_prompts)} images using a total of {p.n_iter} batches.")
        state.job_count = p.n_iter
        if prompt_type == "positive":
            p.prompt = all_prompts
        else:
            p.negative_prompt = all_prompts
        p.seed = [int(p.seed + (i if different_seeds else 0)) for i in range(len(all_prompts))]
        p.prompt_for_display = positive_prompt
        processed = process_images(p)
        if processed.images and images.check_grid_size(processed.images):
            grid = images.image_grid(processed.images, p.batch_size, rows=1 << ((len(parts) - 1) // 2))
            grid = images.draw_prompt_matrix(grid, processed.images[0].width, processed.images[0].height, parts,
                                             margin_size)
            processed.images.insert(0, grid)
            processed.index_of_first_image = 1
            processed.infotexts.insert(0, processed.infotexts[0])
            if getattr(opts, "grid_save", True) and not p.do_not_save_samples:
                images.save_image(processed.images[0], p.outpath_grids, "prompt_matrix",
                                  extension=getattr(opts, "grid_format", "png"), prompt=original_prompt,
                                  seed=processed.seed, grid=True, p=p)
        return processed
