"""Loopback (img2img): feed each result back in as the next init image, moving the denoising strength from its
start value to a final one along a curve. Written only against A1111's script API."""
from __future__ import annotations

import math

import gradio as gr

import modules.scripts as scripts
from modules.errors import InvalidInput  # a user's bad argument: 422, not an extension fault
from modules.arg_checks import choice, field, number
from modules import images, processing
from modules.processing import Processed
from modules.shared import opts, state

CURVES = ("Aggressive", "Linear", "Lazy")
INTERROGATORS = ("None", "CLIP", "DeepBooru")


def denoising_strength(loop: int, loops: int, initial: float, final: float, curve: str) -> float:
    """The strength for loop number `loop` (0 is the first): initial → final, fast first ("Aggressive", a sine),
    evenly ("Linear") or slow first ("Lazy", one minus a cosine).

    >>> [round(denoising_strength(i, 5, 0.5, 0.9, "Linear"), 3) for i in range(5)]
    [0.5, 0.6, 0.7, 0.8, 0.9]
    >>> [round(denoising_strength(i, 3, 0.2, 0.6, c), 3) for c in CURVES for i in (1,)]
    [0.483, 0.4, 0.317]
    >>> denoising_strength(0, 1, 0.75, 0.1, "Linear")
    0.75
    """
    if loops == 1:
        return initial
    progress = loop / (loops - 1)
    if curve == "Aggressive":
        shaped = math.sin(progress * math.pi * 0.5)
    elif curve == "Lazy":
        shaped = 1 - math.cos(progress * math.pi * 0.5)
    else:
        shaped = progress
    return initial + (final - initial) * shaped


def checked_args(loops, final_strength, curve, interrogation) -> tuple[int, float, str]:
    """The arguments as `run` uses them, or a 422 naming the bad one (A1111's layout: docs/scripts.md)."""
    interrogation_field = field(3, "Append interrogated prompt at each iteration")
    if choice(interrogation or "None", interrogation_field, INTERROGATORS) != "None":
        raise InvalidInput(interrogation_field, f"Loopback: {interrogation} interrogation is not available in Easel",
                           "None")
    return (number(loops, field(0, "Loops"), 1, None, whole=True),
            number(final_strength, field(1, "Final denoising strength"), 0.0, 1.0),
            choice(curve, field(2, "Denoising strength curve"), CURVES))


class Script(scripts.Script):
    def title(self):
        return "Loopback"

    def show(self, is_img2img):
        return is_img2img

    def ui(self, is_img2img):
        loops = gr.Slider(minimum=1, maximum=32, step=1, label="Loops", value=4, elem_id=self.elem_id("loops"))
        final_denoising_strength = gr.Slider(minimum=0, maximum=1, step=0.01, label="Final denoising strength",
                                             value=0.5, elem_id=self.elem_id("final_denoising_strength"))
        denoising_curve = gr.Dropdown(label="Denoising strength curve", choices=list(CURVES), value="Linear")
        append_interrogation = gr.Dropdown(label="Append interrogated prompt at each iteration",
                                           choices=list(INTERROGATORS), value="None")
        return [loops, final_denoising_strength, denoising_curve, append_interrogation]

    def run(self, p, loops, final_denoising_strength, denoising_curve, append_interrogation):
        loops, final_denoising_strength, denoising_curve = checked_args(loops, final_denoising_strength,
                                                                        denoising_curve, append_interrogation)
        processing.fix_seed(p)
        batch_count = p.n_iter
        p.extra_generation_params = {"Final denoising strength": final_denoising_strength,
                                     "Denoising curve": denoising_curve}
        p.batch_size = p.n_iter = 1
        p.do_not_save_grid = True
        initial_strength = p.denoising_strength
        original_init_images, original_fill = p.init_images, p.inpainting_fill
        state.job_count = loops * batch_count
        initial_seed = initial_info = None
        history, infotexts, seeds = [], [], []
        for n in range(batch_count):
            p.init_images, p.denoising_strength = original_init_images, initial_strength
            last = last_info = last_seed = None
            for i in range(loops):
                state.job = f"Iteration {i + 1}/{loops}, batch {n + 1}/{batch_count}"
                processed = processing.process_images(p)
                if state.interrupted or not processed.images:
                    break
                if initial_seed is None:
                    initial_seed, initial_info = processed.seed, processed.info
                p.seed = processed.seed + 1
                p.denoising_strength = denoising_strength(i + 1, loops, initial_strength, final_denoising_strength,
                                                          denoising_curve)
                if state.skipped:
                    break
                last, last_info, last_seed = processed.images[0], processed.infotexts[0], processed.seed
                p.init_images = [last]
                p.inpainting_fill = 1  # "original": the next loop starts from this result under the mask
                if batch_count == 1:
                    history.append(last)
                    infotexts.append(last_info)
                    seeds.append(last_seed)
            if batch_count > 1 and last is not None and not state.skipped and not state.interrupted:
                history.append(last)
                infotexts.append(last_info)
                seeds.append(last_seed)
            p.inpainting_fill = original_fill
            if state.interrupted:
                break
        all_images = list(history)
        if len(history) > 1:
            grid = images.image_grid(history, rows=1)
            if getattr(opts, "grid_save", True) and not p.do_not_save_samples:
                images.save_image(grid, p.outpath_grids, "grid", initial_seed, p.prompt,
                                  getattr(opts, "grid_format", "png"), info=initial_info, short_filename=True,
                                  grid=True, p=p)
            if getattr(opts, "return_grid", True):
                all_images = [grid] + all_images
                infotexts = [initial_info] + infotexts
        return Processed(p, all_images, initial_seed, initial_info, all_prompts=[p.prompt] * len(history),
                         all_seeds=seeds, infotexts=infotexts, index_of_first_image=len(all_images) - len(history))
