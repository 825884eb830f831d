// Keyboard use of the page, where Gradio's dropdowns get in the way.
// 1. Their option lists are scrollable <ul role="listbox"> elements, which Chromium makes tab stops of their own
//    ("keyboard-focusable scrollers"): Tab from a long dropdown (Sampling method) moved focus into its list, the
//    list vanished as the dropdown closed, and focus fell to <body>. The options stay reachable with the arrow
//    keys from the dropdown's input, as Gradio intends.
// 2. A dropdown opened from the keyboard stayed open after focus left it (by Tab or by a click elsewhere): when a
//    dropdown's input loses focus and its list is still expanded, it gets the Escape that closes it.
(function () {
    "use strict";

    function untabbable(node) {
        if (node.nodeType !== 1) return;
        if (node.matches('ul[role="listbox"]')) node.setAttribute("tabindex", "-1");
        node.querySelectorAll('ul[role="listbox"]:not([tabindex])').forEach((list) => list.setAttribute("tabindex", "-1"));
    }

    new MutationObserver((mutations) => {
        for (const mutation of mutations) mutation.addedNodes.forEach(untabbable);
    }).observe(document.documentElement, {childList: true, subtree: true});

    document.addEventListener("focusout", (event) => {
        const input = event.target;
        if (!(input instanceof HTMLInputElement) || input.getAttribute("role") !== "combobox") return;
        setTimeout(() => {
            if (document.activeElement === input || input.getAttribute("aria-expanded") !== "true") return;
            input.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", bubbles: true}));
        }, 0);
    }, true);
})();
