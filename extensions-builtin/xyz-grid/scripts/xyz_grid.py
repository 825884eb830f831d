"""X/Y/Z plot: one image per combination of up to three axes of values, laid out as a labelled grid.

Written only against A1111's script API, as A1111's own built-in script is. Values are comma-separated (CSV
quoting allowed) and numbers may be ranges: `1-5`, `1-10 (+2)` (step), `1-10 [5]` (count), with decimals for float
axes. The pure parts live in ../xyz_values.py, the axis table in ../xyz_axes.py (both re-exported here, where other
extensions look for `axis_options` and `AxisOption` to add their own axes).
"""
from __future__ import annotations

import random
from collections import namedtuple
from copy import copy
from itertools import permutations

import gradio as gr
from PIL import Image

import modules.scripts as scripts
from modules.errors import InvalidInput  # a user's bad argument: 422, not an extension fault
from modules.arg_checks import field, number, text as text_arg
from modules import images, processing
from modules.processing import Processed, process_images
from modules.shared import opts, state
from modules.ui_components import ToolButton
from xyz_axes import (AxisOption, AxisOptionImg2Img, AxisOptionTxt2Img, apply_field, apply_override,  # noqa: F401
                      axis_options, boolean_choice, do_nothing, easel_axis_options, format_nothing, format_remove_path,
                      format_value, format_value_add_label, format_value_join_list, str_permutations)
from xyz_values import csv_values, expand_ranges, list_to_csv_string, loop_order  # noqa: F401

AxisInfo = namedtuple("AxisInfo", ["axis", "values"])
FILL_SYMBOL = "\U0001f4d2"  # 📒


def options_for(is_img2img: bool) -> list[AxisOption]:
    """The axes one tab offers, in A1111's order (API clients address them by index), then Easel's own."""
    return [o for o in [*axis_options, *easel_axis_options] if o.is_img2img is None or o.is_img2img == is_img2img]


# script_args index of each axis's type and values (A1111 1.10's layout; docs/scripts.md)
ARG_INDEX = {"x": 0, "y": 3, "z": 6}


def axis_field(axis: str, what: str = "type") -> str:
    """The request field a client set for this axis, e.g. `script_args[3] (Y type)`.

    >>> axis_field("y"), axis_field("z", "values")
    ('script_args[3] (Y type)', 'script_args[7] (Z values)')
    """
    return field(ARG_INDEX[axis] + (1 if what == "values" else 0), f"{axis.upper()} {what}")


def pick_axis(options: list[AxisOption], value, field: str = "script_args") -> AxisOption:
    """An axis by its index in the tab's list (A1111's API) or by its label."""
    if value is None or value == "":
        return options[0]
    listing = ", ".join(f"{i}: {o.label}" for i, o in enumerate(options))
    whole = isinstance(value, int) or isinstance(value, float) and value.is_integer()
    if isinstance(value, bool) or not (whole or isinstance(value, str)):
        raise InvalidInput(field, f"X/Y/Z plot: axis {value!r} is neither an index nor a label", listing)
    if isinstance(value, str) and not value.strip().isdigit():
        found = [o for o in options if o.label.lower() == value.strip().lower()]
        if not found:
            raise InvalidInput(field, f"X/Y/Z plot: unknown axis {value!r}", listing)
        return found[0]
    index = int(value)
    if not 0 <= index < len(options):
        raise InvalidInput(field, f"X/Y/Z plot: axis index {index} is out of range 0 to {len(options) - 1}",
                           listing)
    return options[index]


def checked_values(axis: str, text, dropdown) -> tuple[str, list]:
    """An axis's values text (a string) and dropdown values (a list), as a client sent them, or a 422."""
    if dropdown is not None and not isinstance(dropdown, (list, tuple)):
        raise InvalidInput(field(ARG_INDEX[axis] + 2, f"{axis.upper()} values"),
                           f"X/Y/Z plot: {dropdown!r} is not a list", "a list of strings")
    return text_arg(text, axis_field(axis, "values")), list(dropdown or [])


def axis_values(p, opt: AxisOption, text: str, dropdown, csv_mode: bool, raw_mode: bool,
                field: str = "script_args") -> list:
    """The values of one axis: from the dropdown (choice axes) or the text, ranges expanded, typed and checked."""
    if opt.label == "Nothing":
        return [0]
    if opt.choices is not None and not csv_mode and dropdown:
        values = list(dropdown)
    elif opt.prepare is not None:
        values = opt.prepare(text)
    elif raw_mode and "\n" in (text or "").strip():
        values = text.strip().split("\n")
    else:
        values = csv_values(text)
    try:
        if opt.type in (int, float):
            values = expand_ranges(values, opt.type)
        elif opt.type is str_permutations:
            values = list(permutations(values))
        values = [opt.type(v) for v in values]
        if not values:
            raise ValueError("no values given")
        if opt.confirm is not None:
            opt.confirm(p, values)
    except (ValueError, RuntimeError) as e:
        raise InvalidInput(field, f"X/Y/Z plot, axis {opt.label}: {e}") from None
    return values


def fixed_seeds(opt: AxisOption, values: list) -> list:
    """-1 (random) seeds on seed axes drawn now, so the grid can be made again from its infotext."""
    if opt.label not in ("Seed", "Var. seed"):
        return values
    return [random.randrange(4294967294) if v in (None, "", -1) else v for v in values]


def seed_offset(at: dict, sizes: dict, vary: dict) -> int:
    """How far a cell's seed moves from the job's with "Vary seeds for X/Y/Z": numbered along the varied axes,
    X fastest, so no two cells share a seed.

    >>> sizes = {"x": 3, "y": 2, "z": 2}
    >>> seed_offset({"x": 2, "y": 1, "z": 1}, sizes, {"x": True, "y": True, "z": True})
    11
    >>> seed_offset({"x": 2, "y": 1, "z": 1}, sizes, {"x": False, "y": True, "z": False})
    1
    >>> seed_offset({"x": 2, "y": 1, "z": 1}, sizes, {"x": True, "y": False, "z": True})
    5
    """
    offset, stride = 0, 1
    for axis in "xyz":
        if vary[axis]:
            offset += at[axis] * stride
            stride *= sizes[axis]
    return offset


def label_groups(labels) -> list[list]:
    return [[images.GridAnnotation(str(text))] for text in labels]


def draw_grids(cells: list, nx: int, ny: int, nz: int, labels: dict, draw_legend: bool, margin: int) -> tuple:
    """(the main grid, one labelled x × y grid per z value) from the cells in x-fastest order."""
    subgrids = []
    for iz in range(nz):
        chunk = cells[iz * nx * ny:(iz + 1) * nx * ny]
        grid = images.image_grid(chunk, rows=ny)
        if draw_legend:
            grid = images.draw_grid_annotations(grid, grid.width // nx, grid.height // ny, label_groups(labels["x"]),
                                                label_groups(labels["y"]), margin)
        subgrids.append(grid)
    main = images.image_grid(subgrids, rows=1)
    if draw_legend:
        main = images.draw_grid_annotations(main, subgrids[0].width, subgrids[0].height, label_groups(labels["z"]),
                                            [[images.GridAnnotation()]])
    return main, subgrids


class Script(scripts.Script):
    def title(self):
        return "X/Y/Z plot"

    def ui(self, is_img2img):
        self.current_axis_options = options_for(is_img2img)
        labels = [o.label for o in self.current_axis_options]
        rows = {}
        for axis, default in (("x", 1), ("y", 0), ("z", 0)):
            with gr.Row():
                kind = gr.Dropdown(label=f"{axis.upper()} type", choices=labels, value=labels[default], type="index",
                                   elem_id=self.elem_id(f"{axis}_type"))
                values = gr.Textbox(label=f"{axis.upper()} values", lines=1, elem_id=self.elem_id(f"{axis}_values"))
                dropdown = gr.Dropdown(label=f"{axis.upper()} values", visible=False, multiselect=True,
                                       interactive=True)
                fill = ToolButton(value=FILL_SYMBOL, elem_id=f"xyz_grid_fill_{axis}_tool_button", visible=False)
            rows[axis] = (kind, values, dropdown, fill)
        with gr.Row(variant="compact", elem_id="axis_options"):
            with gr.Column():
                draw_legend = gr.Checkbox(label="Draw legend", value=True, elem_id=self.elem_id("draw_legend"))
                no_fixed_seeds = gr.Checkbox(label="Keep -1 for seeds", value=False,
                                             elem_id=self.elem_id("no_fixed_seeds"))
                with gr.Row():
                    vary_seeds = [gr.Checkbox(label=f"Vary seeds for {a}", value=False, min_width=80,
                                              elem_id=self.elem_id(f"vary_seeds_{a.lower()}")) for a in "XYZ"]
            with gr.Column():
                include_lone_images = gr.Checkbox(label="Include Sub Images", value=False,
                                                  elem_id=self.elem_id("include_lone_images"))
                include_sub_grids = gr.Checkbox(label="Include Sub Grids", value=False,
                                                elem_id=self.elem_id("include_sub_grids"))
                raw_mode = gr.Checkbox(label="Use raw text lines", value=False, elem_id=self.elem_id("raw_mode"))
            with gr.Column():
                margin_size = gr.Slider(label="Grid margins (px)", minimum=0, maximum=500, value=0, step=2,
                                        elem_id=self.elem_id("margin_size"))
            with gr.Column():
                csv_mode = gr.Checkbox(label="Use text inputs instead of dropdowns", value=False,
                                       elem_id=self.elem_id("csv_mode"))
        self._wire(rows, csv_mode)
        self._swap_buttons(rows)
        self.infotext_fields = [entry for axis in "xyz" for entry in (
            (rows[axis][0], f"{axis.upper()} Type"), (rows[axis][1], f"{axis.upper()} Values"),
            (rows[axis][2], lambda params, a=axis: gr.update(value=csv_values(params.get(f"{a.upper()} Values", "")))))]
        # A1111 1.10's 18 args in its order, then Easel's own (raw_mode), so A1111 clients' script_args fit
        return [*rows["x"][:3], *rows["y"][:3], *rows["z"][:3], draw_legend, include_lone_images, include_sub_grids,
                no_fixed_seeds, *vary_seeds, margin_size, csv_mode, raw_mode]

    def _swap_buttons(self, rows: dict) -> None:
        """A1111's Swap X/Y, Y/Z and X/Z buttons: two axes trade type, values text and chosen values."""
        def swap(type1, text1, chosen1, type2, text2, chosen2):
            labels = [o.label for o in self.current_axis_options]
            return labels[type2 or 0], text2, chosen2, labels[type1 or 0], text1, chosen1

        with gr.Row(variant="compact", elem_id="swap_axes"):
            for first, second in ("xy", "yz", "xz"):
                button = gr.Button(value=f"Swap {first.upper()}/{second.upper()} axes",
                                   elem_id=f"{first}{second}_grid_swap_axes_button")
                both = [*rows[first][:3], *rows[second][:3]]
                button.click(swap, inputs=both, outputs=both)

    def _wire(self, rows: dict, csv_mode) -> None:
        """Choice axes show a multi-select dropdown (text in CSV mode) and a button that fills in every choice."""
        def select_axis(axis_type, text, chosen, csv):
            choices = self.current_axis_options[axis_type].choices
            if choices is None:
                return gr.update(visible=False), gr.update(visible=True, value=text), gr.update(visible=False)
            choices = choices()
            if csv and chosen:
                text, chosen = list_to_csv_string([c for c in chosen if c in choices]), []
            elif not csv and text:
                text, chosen = "", [c for c in csv_values(text) if c in choices]
            return (gr.update(visible=True), gr.update(visible=csv, value=text),
                    gr.update(choices=choices, visible=not csv, value=chosen))

        def fill(axis_type, csv):
            choices = self.current_axis_options[axis_type].choices
            if choices is None:
                return gr.update(), gr.update()
            return (gr.update(value=list_to_csv_string(choices())), gr.update()) if csv else \
                (gr.update(), gr.update(value=choices()))

        for kind, values, dropdown, fill_button in rows.values():
            kind.change(fn=select_axis, inputs=[kind, values, dropdown, csv_mode],
                        outputs=[fill_button, values, dropdown])
            csv_mode.change(fn=select_axis, inputs=[kind, values, dropdown, csv_mode],
                            outputs=[fill_button, values, dropdown])
            fill_button.click(fn=fill, inputs=[kind, csv_mode], outputs=[values, dropdown])

    def run(self, p, x_type, x_values, x_values_dropdown, y_type, y_values, y_values_dropdown, z_type, z_values,
            z_values_dropdown, draw_legend, include_lone_images, include_sub_grids, no_fixed_seeds, vary_seeds_x=False,
            vary_seeds_y=False, vary_seeds_z=False, margin_size=0, csv_mode=False, raw_mode=False):
        margin_size = number(margin_size, field(16, "Grid margins (px)"), 0, 500, whole=True)
        if not no_fixed_seeds:
            processing.fix_seed(p)
        if not getattr(opts, "return_grid", True):
            p.batch_size = 1
        options = options_for(isinstance(p, processing.StableDiffusionProcessingImg2Img))
        given = {"x": (x_type, x_values, x_values_dropdown), "y": (y_type, y_values, y_values_dropdown),
                 "z": (z_type, z_values, z_values_dropdown)}
        opt, vals, texts = {}, {}, {}
        for axis, (kind, text, dropdown) in given.items():
            opt[axis] = pick_axis(options, kind, axis_field(axis))
            text, dropdown = checked_values(axis, text, dropdown)
            if opt[axis].choices is not None and not csv_mode and dropdown:
                text = list_to_csv_string(dropdown)
            texts[axis] = text or ""
            vals[axis] = axis_values(p, opt[axis], text or "", dropdown, csv_mode, raw_mode, axis_field(axis))
            if not no_fixed_seeds:
                vals[axis] = fixed_seeds(opt[axis], vals[axis])
        nx, ny, nz = len(vals["x"]), len(vals["y"]), len(vals["z"])
        megapixels = round(nx * ny * nz * p.width * p.height / 1_000_000)
        limit = getattr(opts, "img_max_size_mp", 200)
        if megapixels >= limit:
            raise InvalidInput("script_args", f"X/Y/Z plot: the grid would be {megapixels} megapixels",
                               f"fewer values or a smaller size: under {limit} megapixels (setting img_max_size_mp)")
        print(f"X/Y/Z plot will create {nx * ny * nz * p.n_iter * p.batch_size} images on {nz} {nx}x{ny} grid"
              f"{'s' if nz > 1 else ''}.")
        state.xyz_plot_x, state.xyz_plot_y, state.xyz_plot_z = (AxisInfo(opt[a], vals[a]) for a in "xyz")
        vary = {"x": bool(vary_seeds_x), "y": bool(vary_seeds_y), "z": bool(vary_seeds_z)}
        return self.plot(p, opt, vals, texts, vary, draw_legend, include_lone_images, include_sub_grids,
                         no_fixed_seeds, margin_size)

    def grid_params(self, pc, opt, vals, texts, axes, no_fixed_seeds) -> None:
        pc.extra_generation_params = dict(pc.extra_generation_params, Script=self.title())
        for axis in axes:
            if opt[axis].label == "Nothing":
                continue
            pc.extra_generation_params[f"{axis.upper()} Type"] = opt[axis].label
            pc.extra_generation_params[f"{axis.upper()} Values"] = texts[axis]
            if opt[axis].label in ("Seed", "Var. seed") and not no_fixed_seeds:
                pc.extra_generation_params[f"Fixed {axis.upper()} Values"] = ", ".join(map(str, vals[axis]))

    def plot(self, p, opt, vals, texts, vary, draw_legend, include_lone_images, include_sub_grids, no_fixed_seeds,
             margin):
        nx, ny, nz = (len(vals[a]) for a in "xyz")
        count = nx * ny * nz
        state.job_count = count * p.n_iter
        results, grid_infotexts, failures = [None] * count, [None] * (nz + 1), []
        order = loop_order({a: opt[a].cost for a in "xyz"})
        ranges = {a: range(len(vals[a])) for a in "xyz"}
        for outer in ranges[order[0]]:
            for middle in ranges[order[1]]:
                for inner in ranges[order[2]]:
                    at = dict(zip(order, (outer, middle, inner)))
                    index = at["x"] + at["y"] * nx + at["z"] * nx * ny
                    state.job = f"{index + 1} out of {count}"
                    if state.interrupted:
                        continue
                    pc = copy(p)
                    pc.styles = list(pc.styles or [])
                    pc.override_settings = dict(pc.override_settings or {})
                    pc.extra_generation_params = dict(pc.extra_generation_params)
                    try:
                        for axis in "xyz":
                            opt[axis].apply(pc, vals[axis][at[axis]], vals[axis])
                        if isinstance(pc.seed, int) and pc.seed != -1:  # -1 (kept random) varies anyway
                            pc.seed += seed_offset(at, {a: len(vals[a]) for a in "xyz"}, vary)
                        results[index] = process_images(pc)
                    except Exception as e:  # one bad cell leaves a blank cell, as in A1111; all bad: the error
                        print(f"X/Y/Z plot: cell {index + 1} failed: {e}")
                        failures.append(e)
                        continue
                    if results[index].images and at["x"] == 0 and at["y"] == 0:
                        if grid_infotexts[1 + at["z"]] is None:
                            self.grid_params(pc, opt, vals, texts, "xy", no_fixed_seeds)
                            grid_infotexts[1 + at["z"]] = processing.create_infotext(
                                pc, pc.all_prompts, pc.all_seeds, pc.all_subseeds)
                        if at["z"] == 0 and grid_infotexts[0] is None:
                            self.grid_params(pc, opt, vals, texts, "xyz", no_fixed_seeds)
                            grid_infotexts[0] = processing.create_infotext(
                                pc, pc.all_prompts, pc.all_seeds, pc.all_subseeds)
        done = [r for r in results if r is not None and r.images]
        if not done:
            if failures:
                raise failures[0]
            return Processed(p, [])
        return self.assemble(p, results, done[0], grid_infotexts, opt, vals, draw_legend, include_lone_images,
                             include_sub_grids, margin)

    def assemble(self, p, results, first, grid_infotexts, opt, vals, draw_legend, include_lone_images,
                 include_sub_grids, margin):
        """The Processed of the plot: main grid, then sub-grids and cell images as asked; each with its infotext."""
        nx, ny, nz = (len(vals[a]) for a in "xyz")
        size = first.images[0].size
        cells = [r.images[0] if r is not None and r.images else Image.new("RGB", size) for r in results]
        labels = {a: [opt[a].format_value(p, opt[a], v) for v in vals[a]] for a in "xyz"}
        main, subgrids = draw_grids(cells, nx, ny, nz, labels, draw_legend, margin)
        infotexts = [text or first.info for text in grid_infotexts]
        processed = copy(first)
        processed.images, processed.infotexts = [main], [infotexts[0]]
        if include_sub_grids and nz > 1:
            processed.images += subgrids
            processed.infotexts += infotexts[1:]
        processed.index_of_first_image = len(processed.images)
        ok = [r for r in results if r is not None and r.images]
        processed.all_prompts = [r.all_prompts[0] for r in ok]
        processed.all_negative_prompts = [r.all_negative_prompts[0] for r in ok]
        processed.all_seeds = [r.all_seeds[0] for r in ok]
        processed.all_subseeds = [r.all_subseeds[0] for r in ok]
        if include_lone_images:
            processed.images += [r.images[0] for r in ok]
            processed.infotexts += [r.infotexts[0] for r in ok]
        if getattr(opts, "grid_save", True) and not p.do_not_save_grid and not p.do_not_save_samples:
            for grid, text in list(zip([main] + subgrids, infotexts))[:(nz + 1 if include_sub_grids and nz > 1 else 1)]:
                images.save_image(grid, p.outpath_grids, "xyz_grid", seed=processed.all_seeds[0],
                                  prompt=processed.all_prompts[0], extension=getattr(opts, "grid_format", "png"),
                                  info=text, grid=True, p=p)
        return processed
