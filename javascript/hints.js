// Mouse-over titles of the tool buttons, in A1111's words (so that A1111 localizations translate them too):
// element id suffix → title. Set once per button, through the chosen localization (localization.js).
"use strict";

const EASEL_HINTS = {
    "_random_seed": "Set seed to -1, which will cause a new random number to be used every time",
    "_random_subseed": "Set seed to -1, which will cause a new random number to be used every time",
    "_reuse_seed": "Reuse seed from last generation, mostly useful if it was randomized",
    "_reuse_subseed": "Reuse seed from last generation, mostly useful if it was randomized",
    "_res_switch_btn": "Switch width/height",
    "_paste": "Read generation parameters from prompt or last generation if prompt is empty into user interface.",
    "_clear_prompt": "Clear prompt",
    "_style_apply": "Apply all selected styles to prompts.",
    "_style_create": "Save style",
    "_open_folder": "Open images output directory",
    "_interrupt": "Stop processing images and return any results accumulated so far.",
    "_skip": "Stop processing current image and continue processing.",
};
const EASEL_HINTED = Object.keys(EASEL_HINTS).map((suffix) => `[id$='${suffix}']:not([title])`).join(", ");

function easelHintOf(id) {
    for (const suffix in EASEL_HINTS) {
        if (id.endsWith(suffix)) return EASEL_HINTS[suffix];
    }
    return null;
}

function easelSetHints() {
    for (const element of gradioApp().querySelectorAll(EASEL_HINTED)) {
        const button = element.tagName === "BUTTON" ? element : element.querySelector("button");
        const hint = easelHintOf(element.id);
        if (!button || !hint || button.title) continue;
        button.title = typeof easelLocalized === "function" ? easelLocalized(hint) : hint;
    }
}

onUiUpdate(easelSetHints);

// A1111's `tooltip=` on an extension's component (the compat layer sends it as `webui_tooltip` in the component's
// configuration, as A1111 does): the title of the element with that elem_id, or of the control inside it.
let easelComponentTips = null;  // [[elem_id, text]], read from gradio_config once

function easelSetComponentTips() {
    if (easelComponentTips === null) {
        if (!window.gradio_config) return;
        easelComponentTips = (window.gradio_config.components || [])
            .filter((c) => c.props && c.props.webui_tooltip && c.props.elem_id)
            .map((c) => [c.props.elem_id, c.props.webui_tooltip]);
    }
    for (const [id, tip] of easelComponentTips) {
        const element = gradioApp().querySelector(`#${CSS.escape(id)}`);
        if (!element) continue;  // a tab not shown yet: its elements come later
        const target = element.matches("button, input, textarea, select") ? element
            : element.querySelector("button, input, textarea, select") || element;
        if (!target.title) target.title = typeof easelLocalized === "function" ? easelLocalized(tip) : tip;
    }
}

onUiUpdate(easelSetComponentTips);
