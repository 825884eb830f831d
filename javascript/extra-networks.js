// The Extra Networks browser's cards (modules/ui/extra_networks*.py), with the global names A1111's page gives
// them and its extensions call: cardClicked, selectCheckpoint, extraNetworksRefreshSingleCard, requestGet,
// applyExtraNetworkFilter/Sort, extraNetworksSearchButton, the controls' onclick handlers, activePromptTextarea.
// A click on a card adds its text to the prompt; a second click takes it out again.
"use strict";

var activePromptTextarea = {};  // tab → the prompt box (positive or negative) the user was last in
var desiredCheckpointName = null;  // what #change_checkpoint switches to (selectCheckpoint)
var extraNetworksApplyFilter = {};  // "<tab>_<page>" → function(force)
var extraNetworksApplySort = {};

// A setting the page has read from /sdapi/v1/options, or its default while they are not there (--api-auth).
function extraNetworksOpt(key, fallback) {
    return (typeof opts === "object" && opts[key] !== undefined && opts[key] !== null) ? opts[key] : fallback;
}

function extraNetworksPromptBox(tabname, negative) {
    return gradioApp().querySelector(`#${tabname}_${negative ? "neg_prompt" : "prompt"} textarea`);
}

document.addEventListener("focusin", function(event) {
    const box = event.target;
    if (!box || box.tagName !== "TEXTAREA") return;
    const holder = box.closest("[id$='_prompt'], [id$='_neg_prompt']");
    const match = holder && holder.id.match(/^(txt2img|img2img)_(neg_)?prompt$/);
    if (match) activePromptTextarea[match[1]] = box;
});

const reExtraNet = /<([^:^>]+:[^:]+):[\d.]+>(.*)/;
const reExtraNetAll = /<([^:^>]+:[^:]+):[\d.]+>/g;
const reExtraNetNeg = /\(([^:^>]+:[\d.]+)\)/;
const reExtraNetNegAll = /\(([^:^>]+:[\d.]+)\)/g;

function extraNetworksEscapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Take `text` out of the box if it is there: a `<kind:name:weight>` tag whatever its weight (with the text that
// followed it when added, and the separator before it), or else the plain text. True when something was removed.
function tryToRemoveExtraNetworkFromPrompt(textarea, text, isNeg) {
    const separator = String(extraNetworksOpt("extra_networks_add_text_separator", " "));
    const match = text.match(isNeg ? reExtraNetNeg : reExtraNet);
    let value = textarea.value;
    if (match) {
        const wanted = match[1];
        const after = match[2] || "";
        let at = -1;
        value = value.replace(isNeg ? reExtraNetNegAll : reExtraNetAll, function(found, net, position) {
            if (at < 0 && net === wanted) {
                at = position;
                return "";
            }
            return found;
        });
        if (at < 0) return false;
        if (after && value.substr(at, after.length) === after) {
            value = value.substr(0, at) + value.substr(at + after.length);
        }
        const before = at - separator.length;
        if (separator && before >= 0 && value.substr(before, separator.length) === separator) {
            value = value.substr(0, before) + value.substr(at);
        }
    } else {
        const escaped = extraNetworksEscapeRegExp(text);
        const pattern = new RegExp(`(?:${extraNetworksEscapeRegExp(separator)})?${escaped}`, "g");
        const stripped = value.replace(pattern, "");
        if (stripped === value) return false;
        value = stripped;
    }
    textarea.value = value;
    return true;
}

function updatePromptArea(text, textarea, isNeg) {
    if (!textarea) return;
    if (!tryToRemoveExtraNetworkFromPrompt(textarea, text, isNeg)) {
        const separator = textarea.value ? String(extraNetworksOpt("extra_networks_add_text_separator", " ")) : "";
        textarea.value = textarea.value + separator + text;
    }
    updateInput(textarea);
}

function cardClicked(tabname, textToAdd, textToAddNegative, allowNegativePrompt) {
    if (textToAddNegative && textToAddNegative.length > 0) {
        updatePromptArea(textToAdd, extraNetworksPromptBox(tabname, false));
        updatePromptArea(textToAddNegative, extraNetworksPromptBox(tabname, true), true);
    } else {
        const box = allowNegativePrompt && activePromptTextarea[tabname] ? activePromptTextarea[tabname]
            : extraNetworksPromptBox(tabname, false);
        updatePromptArea(textToAdd, box);
    }
}

function selectCheckpoint(name) {
    desiredCheckpointName = name;
    const button = gradioApp().getElementById("change_checkpoint");
    if (button) button.click();
    return false;
}

// ---- search, folders, sorting
function extraNetworksFilter(full) {
    const search = gradioApp().getElementById(`${full}_extra_search`);
    const cards = gradioApp().querySelectorAll(`#${full}_cards > .card`);
    const term = search ? search.value.toLowerCase() : "";
    cards.forEach(function(card) {
        const text = Array.from(card.querySelectorAll(".search_terms, .description"))
            .map((t) => t.textContent.toLowerCase()).join(" ");
        let visible = text.indexOf(term) !== -1;
        if (card.classList.contains("search_only") && term.length < 4) visible = false;
        card.classList.toggle("hidden", !visible);
    });
}

function extraNetworksSort(full) {
    const parent = gradioApp().getElementById(`${full}_cards`);
    const direction = gradioApp().getElementById(`${full}_extra_sort_dir`);
    if (!parent) return;
    const active = gradioApp().querySelector(
        `#${full}_controls .extra-network-control--sort.extra-network-control--enabled`);
    const key = active ? active.dataset.sortkey : "default";
    const field = "sort" + key.charAt(0).toUpperCase() + key.slice(1);
    const cards = Array.from(parent.querySelectorAll(":scope > .card"));
    cards.sort(function(a, b) {
        const x = a.dataset[field], y = b.dataset[field];
        if (x !== undefined && y !== undefined && !isNaN(x) && !isNaN(y)) return Number(x) - Number(y);
        return x < y ? -1 : (x > y ? 1 : 0);
    });
    if (direction && direction.dataset.sortdir === "Descending") cards.reverse();
    cards.forEach((card) => parent.appendChild(card));
}

function extraNetworksPanes(tabname) {
    return Array.from(gradioApp().querySelectorAll(`[id^='${tabname}_'][id$='_pane'].extra-network-pane`))
        .map((pane) => pane.id.slice(0, -"_pane".length));
}

function applyExtraNetworkFilter(full) {
    setTimeout(function() { (extraNetworksApplyFilter[full] || (() => extraNetworksFilter(full)))(true); }, 1);
}

function applyExtraNetworkSort(full) {
    setTimeout(function() { (extraNetworksApplySort[full] || (() => extraNetworksSort(full)))(true); }, 1);
}

// After a refresh re-drew the panes of a tab: the search and sort the user chose apply to the new cards.
function extraNetworksRefreshed(tabname) {
    for (const full of extraNetworksPanes(tabname)) {
        extraNetworksSort(full);
        extraNetworksFilter(full);
    }
    return [];
}

document.addEventListener("input", function(event) {
    const box = event.target;
    if (box && box.classList && box.classList.contains("extra-network-control--search-text")) {
        extraNetworksFilter(box.id.slice(0, -"_extra_search".length));
    }
});

function extraNetworksSearchButton(tabname, page, event) {
    const search = gradioApp().getElementById(`${tabname}_${page}_extra_search`);
    const button = event.target;
    search.value = button.classList.contains("search-all") ? "" : button.textContent.trim();
    updateInput(search);
}

function extraNetworksControlSortOnClick(event, tabname, page) {
    const self = event.currentTarget;
    self.parentElement.querySelectorAll(".extra-network-control--sort")
        .forEach((x) => x.classList.remove("extra-network-control--enabled"));
    self.classList.add("extra-network-control--enabled");
    applyExtraNetworkSort(`${tabname}_${page}`);
}

function extraNetworksControlSortDirOnClick(event, tabname, page) {
    const self = event.currentTarget;
    const descending = self.dataset.sortdir !== "Descending";
    self.dataset.sortdir = descending ? "Descending" : "Ascending";
    self.setAttribute("title", descending ? "Sort descending" : "Sort ascending");
    applyExtraNetworkSort(`${tabname}_${page}`);
}

function extraNetworksControlTreeViewOnClick(event, tabname, page) {
    const button = event.currentTarget;
    button.classList.toggle("extra-network-control--enabled");
    const hide = !button.classList.contains("extra-network-control--enabled");
    gradioApp().getElementById(`${tabname}_${page}_pane`).classList.toggle("extra-network-dirs-hidden", hide);
}

function extraNetworksControlRefreshOnClick(event, tabname, page) {
    const button = gradioApp().getElementById(`${tabname}_${page}_extra_refresh_internal`) ||
        gradioApp().getElementById(`${tabname}_extra_refresh`);
    if (button) button.click();
}

// ---- the card's buttons and the routes behind them
function requestGet(url, data, handler, errorHandler) {
    const query = Object.keys(data).map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(data[k])).join("&");
    fetch(url + "?" + query, {credentials: "same-origin"})
        .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
        .then(handler)
        .catch(function(error) {
            if (errorHandler) errorHandler(error);
        });
}

function extraNetworksCopyCardPath(event) {
    if (navigator.clipboard) navigator.clipboard.writeText(event.target.getAttribute("data-clipboard-text"));
    event.stopPropagation();
}

function extraNetworksShowMetadata(text) {
    const element = document.createElement("pre");
    element.classList.add("popup-metadata");
    element.textContent = text;
    popup(element);
}

function extraNetworksRequestMetadata(event, page) {
    const card = event.target.closest(".card");
    const failed = () => extraNetworksShowMetadata("there was an error getting metadata");
    requestGet("./sd_extra_networks/metadata", {page: page, item: card.getAttribute("data-name")}, function(data) {
        if (data && data.metadata) extraNetworksShowMetadata(data.metadata);
        else failed();
    }, failed);
    event.stopPropagation();
}

// One card drawn again from its files (an extension changed its preview or description).
function extraNetworksRefreshSingleCard(page, tabname, name) {
    requestGet("./sd_extra_networks/get-single-card", {page: page, tabname: tabname, name: name}, function(data) {
        if (!data || !data.html) return;
        const cards = gradioApp().querySelectorAll(`#${tabname}_${page.replace(" ", "_")}_cards > .card`);
        const card = Array.from(cards).find((c) => c.getAttribute("data-name") === name);
        if (!card) return;
        const holder = document.createElement("div");
        holder.innerHTML = data.html;
        card.replaceWith(holder.firstElementChild);
    });
}

window.addEventListener("keydown", function(event) {
    if (event.key === "Escape" && typeof closePopup === "function") closePopup();
});
