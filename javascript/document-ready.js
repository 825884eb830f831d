// A1111 put every extension's script in the page's <head>, so each one ran before DOMContentLoaded and could wait
// for it (sd-webui-lobe-theme builds its whole page from a DOMContentLoaded listener). Gradio 6 adds the <head>
// scripts itself, usually after that event, so such a listener would never run and the extension would do nothing.
// Here a DOMContentLoaded listener added to the document after the event has fired runs once, right after the
// script that added it, with the event as the browser gave it to the listeners that were in time.
"use strict";

(function () {
    const add = Document.prototype.addEventListener;
    const remove = Document.prototype.removeEventListener;
    const late = [];  // [listener, capture] added after the event, not yet run

    function capture(options) {
        return typeof options === "boolean" ? options : Boolean(options && options.capture);
    }

    function run(entry) {
        const at = late.indexOf(entry);
        if (at < 0) return;  // removed before it ran
        late.splice(at, 1);
        const event = new Event("DOMContentLoaded", {bubbles: true});
        const listener = entry[0];
        try {
            if (typeof listener === "function") listener.call(document, event);
            else listener.handleEvent(event);
        } catch (error) {
            console.error("error running a DOMContentLoaded listener:", error);
        }
    }

    Document.prototype.addEventListener = function (type, listener, options) {
        if (this === document && type === "DOMContentLoaded" && listener && document.readyState !== "loading") {
            const entry = [listener, capture(options)];
            if (!late.some((e) => e[0] === entry[0] && e[1] === entry[1])) {  // the same listener is added once
                late.push(entry);
                setTimeout(() => run(entry), 0);
            }
            return;
        }
        return add.call(this, type, listener, options);
    };

    Document.prototype.removeEventListener = function (type, listener, options) {
        if (this === document && type === "DOMContentLoaded") {
            const at = late.findIndex((e) => e[0] === listener && e[1] === capture(options));
            if (at >= 0) late.splice(at, 1);
        }
        return remove.call(this, type, listener, options);
    };
})();
