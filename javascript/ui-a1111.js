// A1111's page globals that extensions' scripts call (A1111 defines them in script.js, ui.js, hints.js,
// contextMenus.js, localStorage.js, inputAccordion.js, extensions.js …), written for Easel's page: `opts`,
// onOptionsChanged and onOptionsAvailable, `titles`, updateInput, tab switching, gallery selection, visibility
// checks, popups, context-menu entries, localGet/localSet, inputAccordionChecked, extensions_apply, seed and size
// buttons, formatTime.
"use strict";

var opts = {};  // every setting, as /sdapi/v1/options gives them (A1111 fills it from the settings JSON)
var titles = {};  // element text → mouse-over title; extensions add their own entries
const easelOptionsCallbacks = [];
const easelOptionsAvailable = [];  // run once, when opts is first filled

function executeCallbacks(queue, arg) {
    for (const callback of queue) {
        try { callback(arg); } catch (error) { console.error("error running callback", callback, ":", error); }
    }
}

function onOptionsChanged(callback) { easelOptionsCallbacks.push(callback); }

function onOptionsAvailable(callback) {
    if (Object.keys(opts).length) callback();
    else easelOptionsAvailable.push(callback);
}

function easelLoadOptions() {
    fetch("./sdapi/v1/options", {credentials: "same-origin"})
        .then((response) => (response.ok ? response.json() : null))
        .then((data) => {
            if (!data) return;  // the API asks for its own credentials (--api-auth): opts stays empty
            Object.assign(opts, data);
            executeCallbacks(easelOptionsAvailable.splice(0));
            executeCallbacks(easelOptionsCallbacks);
        })
        .catch(() => {});
}

function uiElementIsVisible(el) {
    if (el === document) return true;
    const style = window.getComputedStyle(el);
    const visible = style.display !== "none" && style.visibility !== "hidden";
    return visible && (!el.parentNode || uiElementIsVisible(el.parentNode));
}

function uiElementInSight(el) {
    const rect = el.getBoundingClientRect();
    return rect.bottom > 0 && rect.top < window.innerHeight;
}

// Tell Gradio a script changed an input's value (it listens for "input" events).
function updateInput(target) {
    target.dispatchEvent(new Event("input", {bubbles: true}));
}

function args_to_array(args) { return Array.from(args); }

function randomId() {
    return "task(" + Math.random().toString(36).slice(2, 9) + Math.random().toString(36).slice(2, 9) + ")";
}

function easelTabButtons(tabsId) {
    return Array.from(gradioApp().querySelectorAll(`#${tabsId} [role='tab']`))
        .filter((button) => button.closest(`#${tabsId}`) === gradioApp().querySelector(`#${tabsId}`));
}

function get_tab_index(tabsId) {
    return easelTabButtons(tabsId).findIndex((button) => button.getAttribute("aria-selected") === "true");
}

function easelClickTab(tabsId, index) {
    const button = easelTabButtons(tabsId)[index];
    if (button) button.click();
}

function switch_to_txt2img() {
    gradioApp().querySelector("#tab_txt2img-button")?.click();
    return args_to_array(arguments);
}
function switch_to_img2img_tab(no) {
    gradioApp().querySelector("#tab_img2img-button")?.click();
    easelClickTab("mode_img2img", no);
}
function switch_to_img2img() { switch_to_img2img_tab(0); return args_to_array(arguments); }
function switch_to_sketch() { switch_to_img2img_tab(1); return args_to_array(arguments); }
function switch_to_inpaint() { switch_to_img2img_tab(2); return args_to_array(arguments); }
function switch_to_inpaint_sketch() { switch_to_img2img_tab(2); return args_to_array(arguments); }
function switch_to_extras() {
    gradioApp().querySelector("#tab_extras-button")?.click();
    return args_to_array(arguments);
}

function get_img2img_tab_index() {
    const res = args_to_array(arguments);
    res.splice(-2);
    res[0] = get_tab_index("mode_img2img");
    return res;
}

// The result gallery of the visible tab and its thumbnails (Gradio's gallery: buttons, the chosen one .selected).
function easelVisibleGallery() {
    for (const gallery of gradioApp().querySelectorAll("[id$='_gallery']")) {
        if (gallery.offsetParent !== null) return gallery;
    }
    return null;
}

function all_gallery_buttons() {
    const gallery = easelVisibleGallery();
    return gallery ? Array.from(gallery.querySelectorAll(".thumbnail-item, .thumbnail-small")) : [];
}

function selected_gallery_button() {
    return all_gallery_buttons().find((button) => button.classList.contains("selected")) || null;
}

function selected_gallery_index() {
    return all_gallery_buttons().findIndex((button) => button.classList.contains("selected"));
}

function restart_reload() {
    document.body.style.backgroundColor = "var(--background-fill-primary)";
    const poll = () => fetch("./").then(() => location.reload()).catch(() => setTimeout(poll, 1000));
    setTimeout(poll, 1000);
    return [];
}

// A1111's Extensions tab sent its checkboxes through extensions_apply(disabled, update, disable_all) (JSON lists and
// the mode) to modules.ui_extensions.apply_and_restart, then reloaded the page once the server came back. Easel's
// tab sends its own table, and Easel does not restart itself; these keep A1111's names and values for scripts
// that call or wrap them: the values pass through as given.
function extensions_apply(disabledList, updateList, disableAll) {
    return [disabledList, updateList, disableAll];
}
function extensions_check() { return args_to_array(arguments); }

// A seed field set to -1 (random), and the width and height fields swapped, as A1111's buttons do.
function setRandomSeed(elemId) {
    const input = gradioApp().querySelector(`#${elemId} input`);
    if (input) {
        input.value = "-1";
        updateInput(input);
    }
    return [];
}
function switchWidthHeight(tabname) {
    const width = gradioApp().querySelector(`#${tabname}_width input[type=number]`);
    const height = gradioApp().querySelector(`#${tabname}_height input[type=number]`);
    if (width && height) {
        [width.value, height.value] = [height.value, width.value];
        updateInput(width);
        updateInput(height);
    }
    return [];
}

// Seconds as A1111's progress bar writes an ETA: "01:02:03" past an hour, "02:03" past a minute, else "3s".
function formatTime(seconds) {
    const pad = (n) => String(n).padStart(2, "0");
    const whole = Math.floor(seconds);
    const [hours, minutes] = [Math.floor(whole / 3600), Math.floor(whole / 60) % 60];
    if (seconds > 3600) return `${pad(hours)}:${pad(minutes)}:${pad(whole % 60)}`;
    if (seconds > 60) return `${pad(Math.floor(whole / 60))}:${pad(whole % 60)}`;
    return `${whole}s`;
}

// The browser's storage, as A1111's localStorage.js offers it: a private window or a full disk only warns.
function localSet(key, value) {
    try { localStorage.setItem(key, value); } catch (error) { console.warn(`Failed to save ${key}: ${error}`); }
}
function localGet(key, fallback) {
    try { return localStorage.getItem(key); } catch (error) { console.warn(`Failed to load ${key}: ${error}`); }
    return fallback;
}
function localRemove(key) {
    try { localStorage.removeItem(key); } catch (error) { console.warn(`Failed to remove ${key}: ${error}`); }
}

// Open or close an extension's InputAccordion (its value follows the accordion: modules/ui_components in the
// compat layer), as A1111's inputAccordion.js does for scripts that turn a feature on.
function inputAccordionChecked(id, checked) {
    const label = gradioApp().getElementById(id)?.querySelector(".label-wrap");
    if (label && label.classList.contains("open") !== Boolean(checked)) label.click();
}

function confirm_clear_prompt(prompt, negativePrompt) {
    return confirm("Delete prompt?") ? ["", ""] : [prompt, negativePrompt];
}

let easelPopup = null;
function closePopup() { if (easelPopup) easelPopup.style.display = "none"; }
function popup(contents) {
    if (!easelPopup) {
        easelPopup = document.createElement("div");
        easelPopup.className = "global-popup";
        easelPopup.addEventListener("click", (event) => { if (event.target === easelPopup) closePopup(); });
        gradioApp().appendChild(easelPopup);
    }
    easelPopup.replaceChildren(contents);
    easelPopup.style.display = "flex";
}

// Right-click menu entries on elements (A1111's contextMenus.js API): the page shows them in a small menu.
const easelMenuEntries = new Map();  // selector → [{id, name, func}]
function appendContextMenuOption(targetElementSelector, entryName, entryFunction) {
    const entries = easelMenuEntries.get(targetElementSelector) || [];
    const id = targetElementSelector + "_" + entries.length + "_" + entryName;
    entries.push({id: id, name: entryName, func: entryFunction});
    easelMenuEntries.set(targetElementSelector, entries);
    return id;
}
function removeContextMenuOption(uid) {
    for (const entries of easelMenuEntries.values()) {
        const index = entries.findIndex((entry) => entry.id === uid);
        if (index >= 0) entries.splice(index, 1);
    }
}
function easelContextMenu(event) {
    const found = [];
    for (const [selector, entries] of easelMenuEntries) {
        if (event.composedPath().some((el) => el.matches && el.matches(selector))) found.push(...entries);
    }
    document.querySelector("#context-menu")?.remove();
    if (!found.length) return;
    event.preventDefault();
    const menu = document.createElement("nav");
    menu.id = "context-menu";
    menu.style.cssText = `position:fixed;left:${event.clientX}px;top:${event.clientY}px;z-index:1000`;
    const list = menu.appendChild(document.createElement("ul"));
    for (const entry of found) {
        const item = list.appendChild(document.createElement("li"));
        item.textContent = entry.name;
        item.addEventListener("click", () => { menu.remove(); entry.func(); });
    }
    document.body.appendChild(menu);
    document.addEventListener("click", () => menu.remove(), {once: true});
}
function addContextMenuEventListener() {
    gradioApp().addEventListener("contextmenu", easelContextMenu);
}

function showSubmitButtons(tabname, show) {
    for (const [suffix, visible] of [["_generate", show], ["_interrupt", !show], ["_skip", !show]]) {
        const element = gradioApp().querySelector(`#${tabname}${suffix}`);
        if (element) element.style.display = visible ? "" : "none";
    }
}

// Titles by element text (buttons, labels, options), for `titles` entries: A1111's hints.js behaviour.
function easelApplyTitles() {
    if (!Object.keys(titles).length) return;
    for (const element of gradioApp().querySelectorAll("button, h2, span, option, label > span")) {
        if (element.title) continue;
        const text = (element.textContent || "").trim();
        const tooltip = titles[text] || titles[element.value];
        if (tooltip) element.title = typeof easelLocalized === "function" ? easelLocalized(tooltip) : tooltip;
    }
}

// window.gradio_config as A1111's Gradio 3 had it, for scripts that read components' settings from it: a
// dropdown's or radio's choices are plain values there, where the current Gradio lists [label, value] pairs.
// Called once the page is built (easel.js), so Gradio's own page keeps the pairs it was built from.
function easelGradio3Config() {
    const config = window.gradio_config;
    if (!config || !Array.isArray(config.components)) return;
    const plain = (choice) => (Array.isArray(choice) && choice.length === 2 ? choice[1] : choice);
    config.components = config.components.map((component) => {
        const choices = component.props && component.props.choices;
        if (!Array.isArray(choices) || !choices.some(Array.isArray)) return component;
        return {...component, props: {...component.props, choices: choices.map(plain)}};
    });
}

// Gradio 3 put a textbox's <textarea> (and <input>) straight inside its <label>; Gradio 6 wraps it in a div, so
// A1111-era selectors such as "#txt2img_prompt > label > textarea" find nothing. A query that finds nothing and
// has that step is asked again with the step relaxed ("label textarea"); every other query is untouched.
const EASEL_LABEL_CHILD = />\s*label\s*>\s*(textarea|input)/;  // (no g flag: test() would keep a position)
function easelRelaxLabelChild(proto) {
    const one = proto.querySelector, all = proto.querySelectorAll;
    proto.querySelector = function (selector) {
        const found = one.call(this, selector);
        if (found || typeof selector !== "string" || !EASEL_LABEL_CHILD.test(selector)) return found;
        return one.call(this, selector.replace(new RegExp(EASEL_LABEL_CHILD, "g"), "> label $1"));
    };
    proto.querySelectorAll = function (selector) {
        const found = all.call(this, selector);
        if (found.length || typeof selector !== "string" || !EASEL_LABEL_CHILD.test(selector)) return found;
        return all.call(this, selector.replace(new RegExp(EASEL_LABEL_CHILD, "g"), "> label $1"));
    };
}
[Document.prototype, Element.prototype, DocumentFragment.prototype].forEach(easelRelaxLabelChild);

// use_old_hires_fix_width_height: width and height are hires fix's final size, so the row with Upscale by and
// Resize width/height to goes (style.css hides #txt2img_hires_fix_row2 under this class), as on A1111's page
function easelHiresSizeRule() {
    document.body.classList.toggle("easel-old-hires-sizes", !!opts.use_old_hires_fix_width_height);
}

(function easelA1111Start() {
    if (typeof onUiUpdate !== "function") {  // Gradio may run this file before easel.js
        setTimeout(easelA1111Start, 20);
        return;
    }
    onOptionsChanged(easelHiresSizeRule);
    onUiLoaded(easelLoadOptions);
    onUiLoaded(addContextMenuEventListener);
    onUiUpdate(easelApplyTitles);
})();
