// Easel's page helpers, with A1111's names so users' scripts and extensions find what they expect:
// gradioApp(), onUiLoaded/onUiUpdate/onAfterUiUpdate/onUiTabChange, get_uiCurrentTab(), Ctrl+Enter to
// generate, and a PNG dropped on a prompt box pasting its parameters.
"use strict";

function gradioApp() {
    const app = document.querySelector("gradio-app");
    if (!app) return document;
    if (app.shadowRoot) return app.shadowRoot;
    // A1111's scripts call gradioApp().getElementById(…), which an element lacks (a document has it)
    if (!app.getElementById) app.getElementById = (id) => document.getElementById(id);
    return app;
}

const easelCallbacks = {loaded: [], update: [], afterUpdate: [], tabChange: []};
let easelUiLoaded = false;
// Gradio adds the page's scripts to <head> one by one after the page itself: a script that arrives once the UI
// has loaded still gets its onUiLoaded callback (in A1111 every script is in the page before it loads).
function onUiLoaded(callback) {
    easelCallbacks.loaded.push(callback);
    if (easelUiLoaded) easelRun([callback]);
}
function onUiUpdate(callback) { easelCallbacks.update.push(callback); }
function onAfterUiUpdate(callback) { easelCallbacks.afterUpdate.push(callback); }
function onUiTabChange(callback) { easelCallbacks.tabChange.push(callback); }

function easelRun(list, argument) {
    for (const callback of list) {
        try { callback(argument); } catch (error) { console.error("Easel UI callback failed:", error); }
    }
}

function get_uiCurrentTab() {
    return gradioApp().querySelector("#tabs > .tab-nav button.selected, #tabs [role='tab'][aria-selected='true']");
}

function get_uiCurrentTabContent() {
    const panels = gradioApp().querySelectorAll("#tabs > .tabitem, #tabs > div > .tabitem, [id^='tab_'].tabitem");
    for (const panel of panels) {
        if (panel.offsetParent !== null && getComputedStyle(panel).display !== "none") return panel;
    }
    return null;
}

function easelVisible(element) {
    return element && element.offsetParent !== null;
}

// The Generate button of the tab the user is looking at (txt2img, img2img …).
function easelVisibleButton(suffix) {
    const buttons = gradioApp().querySelectorAll(`[id$='${suffix}']`);
    for (const button of buttons) {
        if (easelVisible(button)) return button.tagName === "BUTTON" ? button : button.querySelector("button");
    }
    return null;
}

function easelKeydown(event) {
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && event.key === "Enter") {
        const button = easelVisibleButton("_generate");
        if (button) {
            event.preventDefault();
            button.click();
        }
    }
}

// A PNG (or JPEG/WebP) dropped on a prompt box is read on the server: its parameters fill the tab's fields.
function easelDropTarget(event) {
    const box = event.target.closest ? event.target.closest("[id$='_prompt'], [id$='_neg_prompt']") : null;
    if (!box || !event.dataTransfer || !event.dataTransfer.types.includes("Files")) return null;
    return box;
}

function easelDrop(event) {
    const box = easelDropTarget(event);
    if (!box) return;
    const file = event.dataTransfer.files[0];
    if (!file || !file.type.startsWith("image/")) return;
    event.preventDefault();
    event.stopPropagation();
    const tab = box.id.replace(/_(neg_)?prompt$/, "");
    const input = gradioApp().querySelector(`#${tab}_png_drop input[type='file']`);
    if (!input) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", {bubbles: true}));
}

function easelDragOver(event) {
    if (easelDropTarget(event)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
    }
}

function easelWaitFor(test, timeout) {
    return new Promise(function (resolve) {
        const start = Date.now();
        (function poll() {
            if (test() || Date.now() - start > timeout) return resolve();
            setTimeout(poll, 30);
        })();
    });
}

// A1111's page (Gradio 3) held every tab's contents from the start, and extensions' scripts look their elements up
// in onUiLoaded. Gradio mounts a tab's contents when the tab is first shown, so each tab (nested tab bars too) is
// shown once at load, and the tabs first selected are selected again. Closed accordions' contents are in the page
// already (modules/ui/layout.py).
// A page with many extensions holds thousands of components, and a busy machine draws them for a minute or more;
// the wait ends as soon as every element is there, or once none has come for EASEL_MOUNT_STALL (an element that
// never comes, e.g. in a part Gradio could not draw, must not hold the page that long).
const EASEL_MOUNT_TIMEOUT = 180000;  // ms
const EASEL_MOUNT_STALL = 10000;  // ms without a new element, every tab shown
const EASEL_NOT_DRAWN = new Set(["state", "timer", "api"]);  // components with no element in the page

// A tab bar's buttons, and those of its overflow menu (Gradio moves there the tabs a narrow bar cannot show).
function easelUnvisitedTabs(app, visited) {
    const buttons = app.querySelectorAll(
        "[role='tablist'] > button[role='tab'], .tab-wrapper .overflow-dropdown button");
    return Array.from(buttons).filter((button) =>
        !visited.has(button) && button.getAttribute("aria-disabled") !== "true");
}

// Select every tab once (or only those of `only`, button ids), nested tab bars as they appear, without waiting for
// each tab's contents (Gradio mounts them in the background); then select again the tab each bar had, and wait for
// the elements `ids` to be there.
async function easelShowEveryTab(app, ids, only) {
    const visited = new Set();
    const first = [];  // the tab each tab bar had, selected again at the end
    const start = Date.now();
    let present = -1, lastGain = start;
    while (Date.now() - start < EASEL_MOUNT_TIMEOUT) {
        const buttons = easelUnvisitedTabs(app, visited).filter((b) => !only || only.includes(b.id));
        for (const bar of new Set(buttons.map((button) => button.parentElement))) {
            const selected = bar.querySelector(":scope > button[role='tab'][aria-selected='true']");
            if (selected && !visited.has(selected)) first.push(selected);
        }
        for (const button of buttons) {
            visited.add(button);
            if (!first.includes(button)) button.click();
        }
        const found = ids.reduce((n, id) => n + (document.getElementById(id) ? 1 : 0), 0);
        if (found > present || buttons.length) [present, lastGain] = [found, Date.now()];
        if (!buttons.length && (found === ids.length || Date.now() - lastGain > EASEL_MOUNT_STALL)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const button of first.reverse()) button.click();
    await easelWaitFor(() => first.every((b) => b.getAttribute("aria-selected") === "true"), 5000);
}

// The elem_ids of every component the page shows or keeps hidden (all but visible=False ones and their contents).
function easelExpectedIds() {
    const config = window.gradio_config;
    if (!config || !config.layout || !config.components) return [];
    const components = new Map(config.components.map((c) => [c.id, c]));
    const ids = [];
    (function walk(node) {
        const component = components.get(node.id) || {};
        const props = component.props || {};
        if (props.visible === false) return;
        if (props.elem_id && !EASEL_NOT_DRAWN.has(component.type)) ids.push(props.elem_id);
        (node.children || []).forEach(walk);
    })(config.layout);
    return ids;
}

// While the tabs are selected one by one, the user keeps seeing (and may use) the tab the page opened on; the tab
// bar is hidden meanwhile, its selection moving.
function easelKeepFirstTabShown(app) {
    const first = app.querySelector("#tabs > .tab-wrapper button[role='tab'][aria-selected='true']");
    const panel = first && first.getAttribute("aria-controls");
    const style = document.createElement("style");
    style.textContent = "#tabs > .tab-wrapper { visibility: hidden; }" + (panel ?
        `#tabs > .tabitem { display: none !important; } #tabs > #${CSS.escape(panel)} { display: flex !important; }` :
        "#tabs { visibility: hidden; }");
    document.head.appendChild(style);
    return style;
}

// Without extensions of the user's, only img2img is mounted at load (Easel's own scripts look up its prompt and both
// galleries then): showing every tab roughly doubles the browser's work before the page can be used.
const EASEL_CORE_AT_LOAD = {
    tabs: ["tab_img2img-button"],
    ids: ["img2img_prompt", "txt2img_gallery", "img2img_gallery"],
};

async function easelMountTabs() {
    const app = gradioApp();
    const everything = app.querySelector("#tabs.easel-everything-at-load") !== null;  // modules/ui/layout.py
    const style = easelKeepFirstTabShown(app);
    try {
        if (everything) await easelShowEveryTab(app, easelExpectedIds());
        else await easelShowEveryTab(app, EASEL_CORE_AT_LOAD.ids, EASEL_CORE_AT_LOAD.tabs);
    } finally {
        style.remove();
    }
}

// As in A1111, onUiUpdate callbacks get each batch of changes, onAfterUiUpdate ones run once the page has been
// still for 200 ms, onUiTabChange ones when the user picks another tab; none runs before the page has loaded
// (A1111's first batch of changes was the whole page, rendered at once).
(function () {
    let loaded = false;
    let currentTab = null;
    let afterUpdate = null;
    function changed(mutations) {
        easelRun(easelCallbacks.update, mutations);
        clearTimeout(afterUpdate);
        afterUpdate = setTimeout(() => easelRun(easelCallbacks.afterUpdate), 200);
        const tab = get_uiCurrentTab();
        if (tab && tab !== currentTab) {
            currentTab = tab;
            easelRun(easelCallbacks.tabChange);
        }
    }
    const observer = new MutationObserver(function (mutations) {
        if (easelUiLoaded) return changed(mutations);
        if (!loaded && gradioApp().querySelector("#txt2img_prompt")) {
            loaded = true;
            easelMountTabs().then(function () {
                if (typeof easelGradio3Config === "function") easelGradio3Config();  // ui-a1111.js
                document.body.classList.add("easel-loaded");
                easelUiLoaded = true;
                currentTab = get_uiCurrentTab();
                easelRun(easelCallbacks.loaded);
                changed([]);
            });
        }
    });
    // Gradio 3 drew the tab buttons again on a tab switch, so A1111's observer saw it; Gradio now only flips
    // attributes, so a click on a tab button counts as a change of the page.
    document.addEventListener("click", function (event) {
        if (easelUiLoaded && event.target.closest && event.target.closest("[role='tab']")) {
            setTimeout(() => changed([]), 0);
        }
    }, true);
    // Gradio adds these scripts to <head> itself, often after DOMContentLoaded has already fired.
    const start = function () { observer.observe(document.body, {childList: true, subtree: true}); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
    document.addEventListener("keydown", easelKeydown);
    document.addEventListener("dragover", easelDragOver, true);
    document.addEventListener("drop", easelDrop, true);
})();
