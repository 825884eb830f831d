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

// Gradio mounts a tab's contents when it is first shown; A1111 scripts expect #img2img_prompt & co. at load.
// Show each such tab once (then go back), so the elements exist before onUiLoaded callbacks run.
const EASEL_MOUNT_AT_LOAD = ["img2img"];
// Gradio loads some components' code on demand and shows "Loading..." meanwhile; on a busy machine the galleries
// come seconds after the prompts, and A1111 scripts look them up in onUiLoaded too.
const EASEL_PRESENT_AT_LOAD = ["txt2img_gallery", "img2img_gallery"];

function easelPresent(ids) {
    return ids.every((id) => gradioApp().querySelector(`#${id}`));
}

async function easelMountTabs() {
    const app = gradioApp();
    const selected = app.querySelector("#tabs button[role='tab'][aria-selected='true']");
    let moved = false;
    for (const tab of EASEL_MOUNT_AT_LOAD) {
        const button = app.querySelector(`#tab_${tab}-button`);
        if (!button || app.querySelector(`#${tab}_prompt`)) continue;
        button.click();
        moved = true;
        await easelWaitFor(() => app.querySelector(`#${tab}_prompt`), 5000);
        await easelWaitFor(() => easelPresent(EASEL_PRESENT_AT_LOAD.filter((id) => id.startsWith(tab))), 15000);
    }
    if (moved && selected) selected.click();
    await easelWaitFor(() => easelPresent(EASEL_PRESENT_AT_LOAD), 15000);
}

(function () {
    let loaded = false;
    let currentTab = null;
    const observer = new MutationObserver(function (mutations) {
        if (!loaded && gradioApp().querySelector("#txt2img_prompt")) {
            loaded = true;
            easelMountTabs().then(function () {
                document.body.classList.add("easel-loaded");
                easelUiLoaded = true;
                easelRun(easelCallbacks.loaded);
            });
        }
        easelRun(easelCallbacks.update, mutations);
        const tab = get_uiCurrentTab();
        if (tab && tab !== currentTab) {
            currentTab = tab;
            easelRun(easelCallbacks.tabChange);
        }
        easelRun(easelCallbacks.afterUpdate);
    });
    // Gradio adds these scripts to <head> itself, often after DOMContentLoaded has already fired.
    const start = function () { observer.observe(document.body, {childList: true, subtree: true}); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
    document.addEventListener("keydown", easelKeydown);
    document.addEventListener("dragover", easelDragOver, true);
    document.addEventListener("drop", easelDrop, true);
})();
