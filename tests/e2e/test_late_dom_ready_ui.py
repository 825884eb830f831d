"""A DOMContentLoaded listener an extension's script adds after the event still runs (javascript/document-ready.js):
A1111's scripts all ran before the event; Gradio 6 adds them later (sd-webui-lobe-theme builds its page from one)."""
from __future__ import annotations


def test_a_late_dom_content_loaded_listener_runs_once(page):
    assert page.evaluate("() => document.readyState") != "loading"
    ran = page.evaluate("""() => new Promise((resolve) => {
        const seen = [];
        const listener = (event) => seen.push(event.type);
        document.addEventListener("DOMContentLoaded", listener);
        document.addEventListener("DOMContentLoaded", listener);  // the same listener twice: once, as the DOM does
        document.addEventListener("DOMContentLoaded", {handleEvent: (event) => seen.push("object " + event.type)});
        setTimeout(() => resolve(seen), 50);
    })""")
    assert ran == ["DOMContentLoaded", "object DOMContentLoaded"]


def test_a_removed_late_listener_does_not_run(page):
    ran = page.evaluate("""() => new Promise((resolve) => {
        let count = 0;
        const listener = () => { count += 1; };
        document.addEventListener("DOMContentLoaded", listener);
        document.removeEventListener("DOMContentLoaded", listener);
        document.addEventListener("click", listener);  // other events are the browser's as before
        document.body.click();
        setTimeout(() => resolve(count), 50);
    })""")
    assert ran == 1
