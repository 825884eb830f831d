// A1111 localizations: the page's texts, button labels, placeholders and titles whose (trimmed) text is a key of
// the chosen localization show its translation, now and whenever the page adds or changes one. What the user typed
// or generated stays as it is: text boxes' values (textareas and inputs are never text nodes here), infotexts,
// galleries, logs and table cells (names of models, styles, extensions…), numbers and emoji.
// The data comes from /easel-assets/localization.js, the first script of <head> (A1111's window.localization);
// `"rtl": true` turns the page right to left and enables stylesheets' `@media rtl { … }` rules, as in A1111.
// A1111's names (ignore_ids_for_localization, getTranslation, processNode, dumpTranslations,
// download_localization …) are kept for extensions and localization authors.
"use strict";

var localization = window.localization || {};

// A1111's table: under an element with this id, text in a node of that kind is left alone. Gradio 3's <option>s
// are Gradio 6's <li role=option>s: "OPTION" covers both. These dropdowns list names of files and styles.
var ignore_ids_for_localization = {
    setting_sd_model_checkpoint: "OPTION",
    setting_sd_vae: "OPTION",
    txt2img_styles: "OPTION",
    img2img_styles: "OPTION",
    setting_face_restoration_model: "OPTION",
    extras_upscaler_1: "OPTION",
    extras_upscaler_2: "OPTION",
    txt2img_hr_upscaler: "OPTION",
    img2img_hr_upscaler: "OPTION",
};
const EASEL_IGNORE_DEPTH = 12;  // A1111 looked 4 levels up; a Gradio 6 option sits deeper under its block's id

// Easel's: regions that show the user's data, never UI text (a prompt or an infotext may equal a key): infotexts,
// logs, galleries, token counters, chosen values of multiselect dropdowns, table cells.
const EASEL_UNTRANSLATED = [
    "[id^='html_info_']", "[id^='html_log_']", "#pnginfo_html", "[id$='_gallery']", "[id$='_token_counter']",
    ".token", "tbody", "[contenteditable]",
].join(", ");

const EASEL_SKIPPED_PARENTS = new Set(["SCRIPT", "STYLE", "TEXTAREA"]);
var re_num = /^[.\d]+$/;
var re_emoji = /[\p{Extended_Pictographic}\u{1F3FB}-\u{1F3FF}\u{1F9B0}-\u{1F9B3}]/u;

var original_lines = {};
var translated_lines = {};

// What this file wrote, so that the observer does not translate its own writes again.
const easelWrittenText = new WeakMap();
const easelWrittenAttributes = new WeakMap();

function hasLocalization() {
    return window.localization && Object.keys(window.localization).length > 0;
}

function textNodesUnder(element) {
    const found = [];
    const walk = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, null);
    let node;
    while ((node = walk.nextNode())) found.push(node);
    return found;
}

function canBeTranslated(node, text) {
    if (!text) return false;
    const parent = node.parentElement;
    if (!parent || EASEL_SKIPPED_PARENTS.has(parent.nodeName)) return false;
    const kind = parent.nodeName === "LI" ? "OPTION" : parent.nodeName;
    if (kind === "OPTION" || kind === "SPAN") {
        let up = parent;
        for (let level = 0; level < EASEL_IGNORE_DEPTH && up; level++, up = up.parentElement) {
            if (up.id && ignore_ids_for_localization[up.id] === kind) return false;
        }
    }
    if (parent.closest(EASEL_UNTRANSLATED)) return false;
    return !re_num.test(text) && !re_emoji.test(text);
}

// The translation of `text`, or undefined; remembers the texts seen for the localization template.
function getTranslation(text) {
    if (!text) return undefined;
    if (translated_lines[text] === undefined) original_lines[text] = 1;
    const translation = localization[text];
    if (typeof translation !== "string") return undefined;
    translated_lines[translation] = 1;
    return translation;
}

// The translation of `text` or `text` itself: for scripts that set texts of their own (hints.js's titles).
function easelLocalized(text) {
    return getTranslation(text) || text;
}

function processTextNode(node) {
    const raw = node.textContent;
    if (easelWrittenText.get(node) === raw) return;
    const text = raw.trim();
    if (!canBeTranslated(node, text)) return;
    const translation = getTranslation(text);
    if (translation === undefined) return;
    const start = raw.indexOf(text);
    const written = raw.slice(0, start) + translation + raw.slice(start + text.length);  // keep the spacing
    easelWrittenText.set(node, written);
    node.textContent = written;
}

function easelTranslateAttribute(element, name) {
    const value = element.getAttribute ? element.getAttribute(name) : null;
    if (!value) return;
    const written = easelWrittenAttributes.get(element);
    if (written && written[name] === value) return;
    const translation = getTranslation(value.trim());
    if (translation === undefined) return;
    easelWrittenAttributes.set(element, Object.assign(written || {}, {[name]: translation}));
    element.setAttribute(name, translation);
}

function processNode(node) {
    if (node.nodeType === Node.TEXT_NODE) {
        processTextNode(node);
        return;
    }
    const root = node.nodeType === Node.DOCUMENT_NODE ? node.body : node;
    if (!root || !root.querySelectorAll) return;
    for (const element of [root, ...root.querySelectorAll("[title], [placeholder]")]) {
        easelTranslateAttribute(element, "title");
        easelTranslateAttribute(element, "placeholder");
    }
    textNodesUnder(root).forEach(processTextNode);
}

// Every text of the page with its translation (itself where there is none): a start for a new localization.
function dumpTranslations() {
    if (!hasLocalization()) processNode(gradioApp());  // nothing was looked at yet
    const dumped = {};
    if (localization.rtl) dumped.rtl = true;
    for (const text in original_lines) {
        if (dumped[text] === undefined) dumped[text] = localization[text] || text;
    }
    return dumped;
}

function download_localization() {
    const text = JSON.stringify(dumpTranslations(), null, 4);
    const link = document.createElement("a");
    link.setAttribute("href", "data:text/plain;charset=utf-8," + encodeURIComponent(text));
    link.setAttribute("download", "localization.json");
    link.style.display = "none";
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
}

// Right to left: the page's direction, and the stylesheets' `@media rtl` rules switched on (A1111's convention).
const easelRtlSheets = new WeakSet();

function easelEnableRtlRules(sheet) {
    if (!sheet || easelRtlSheets.has(sheet)) return;
    let rules;
    try {
        rules = sheet.cssRules;
    } catch (error) {
        return;  // not readable (yet): a later load event comes back here
    }
    easelRtlSheets.add(sheet);
    for (const rule of rules) {
        if (rule.media && Array.from(rule.media).includes("rtl")) rule.media.appendMedium("all");
    }
}

function easelRightToLeft() {
    document.documentElement.setAttribute("dir", "rtl");
    const enableAll = function () { for (const sheet of document.styleSheets) easelEnableRtlRules(sheet); };
    enableAll();
    document.addEventListener("load", function (event) {  // <link> sheets that arrive later
        if (event.target.tagName === "LINK") easelEnableRtlRules(event.target.sheet);
    }, true);
    new MutationObserver(enableAll).observe(document.head, {childList: true});
}

(function () {
    if (!hasLocalization()) return;
    const start = function () {
        const root = gradioApp();
        const target = root instanceof ShadowRoot ? root : document.body;
        new MutationObserver(function (mutations) {
            for (const mutation of mutations) {
                if (mutation.type === "childList") mutation.addedNodes.forEach(processNode);
                else if (mutation.type === "characterData") processTextNode(mutation.target);
                else easelTranslateAttribute(mutation.target, mutation.attributeName);
            }
        }).observe(target, {childList: true, subtree: true, characterData: true, attributes: true,
                            attributeFilter: ["title", "placeholder"]});
        processNode(target);
        if (localization.rtl) easelRightToLeft();
    };
    // Gradio adds <head>'s scripts itself, often after DOMContentLoaded: the page may already be there.
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
})();
