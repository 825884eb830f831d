// Files dropped or pasted on the Inpaint mask editor (#img2maskimg, see javascript/mask-editor.js): a file that
// is not a picture, or one too big to paint on, gets a message under the tool bar and never reaches Gradio's
// upload; a picture dropped on the painted canvas replaces the one shown.
(function () {
    "use strict";
    const ID = "img2maskimg";
    const MAX_BYTES = 200 * 2 ** 20;

    function say(text) {
        const line = document.getElementById(`${ID}_status`);
        if (line) line.textContent = text;
    }

    function problemWith(file) {
        if (!file) return "The clipboard or drop holds no image: copy or drop a PNG, JPEG or WebP picture.";
        if (!file.type.startsWith("image/")) {
            return `${file.name || "That"} is not an image (${file.type || "unknown type"}): ` +
                "drop a PNG, JPEG or WebP picture.";
        }
        if (file.size > MAX_BYTES) {
            return `${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MB: ` +
                `pictures up to ${MAX_BYTES / 2 ** 20} MB can be painted on.`;
        }
        return "";
    }

    function upload(root, file) {
        const input = root.querySelector("input[type=file]");
        if (!input) return;
        const transfer = new DataTransfer();
        transfer.items.add(file);
        input.files = transfer.files;
        input.dispatchEvent(new Event("change", {bubbles: true}));
    }

    function onDrop(event) {
        const root = event.target.closest && event.target.closest(`#${ID}`);
        const files = event.dataTransfer && event.dataTransfer.files;
        if (!root || !files || !files.length) return;
        const problem = problemWith(files[0]);
        const onCanvas = event.target.classList.contains("mask-editor-canvas");
        if (!problem && !onCanvas) return;  // Gradio's own drop zone takes it
        event.preventDefault();
        event.stopPropagation();
        if (problem) say(problem);
        else upload(root, files[0]);
    }

    function onPaste(event) {
        const root = document.getElementById(ID);
        if (!root || !(root.matches(":hover") || root.contains(document.activeElement))) return;
        const items = [...((event.clipboardData && event.clipboardData.items) || [])];
        const item = items.find((i) => i.kind === "file" && i.type.startsWith("image/"));
        const file = item ? item.getAsFile() : null;
        const problem = problemWith(file);
        event.preventDefault();
        event.stopPropagation();
        if (problem) say(problem);
        else upload(root, file);
    }

    document.addEventListener("dragover", (event) => {  // lets a drop on the canvas happen (not the browser's)
        if (event.target.classList && event.target.classList.contains("mask-editor-canvas")) event.preventDefault();
    }, true);
    document.addEventListener("drop", onDrop, true);
    document.addEventListener("paste", onPaste, true);
})();
