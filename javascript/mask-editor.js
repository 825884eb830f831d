// The Inpaint tab's mask editor (modules/ui/mask_editor.py builds its parts). A canvas laid over the uploaded
// picture of #img2maskimg takes mouse, touch and pen strokes (Pointer Events) and draws them at once, in the
// browser; after each stroke, undo, redo or clear, the mask goes as a PNG data URL into the hidden text field
// #img2maskimg_mask, which Generate sends (modules/ui/image_inputs.py: mask_from_data_url). Undo and redo replay
// strokes on the canvas only: the picture is Gradio's own component, which no tool here touches. What may be
// dropped or pasted on the editor is checked by javascript/mask-editor-files.js.
(function () {
    "use strict";
    const ID = "img2maskimg";
    const MAX_SIDE = 2048;  // longest side of the mask canvas; the server scales a smaller mask to the picture
    const MAX_PIXELS = 89478485;  // Pillow's limit (Image.MAX_IMAGE_PIXELS): the server could not read more
    const SIZE_MIN = 1, SIZE_MAX = 256;  // the largest brush grows to a quarter of a bigger picture's side
    const state = {
        root: null, img: null, src: "", canvas: null, ctx: null, cursor: null, natural: [0, 0],
        ops: [], done: 0, stroke: null, tool: "brush", size: 24, sizeMax: SIZE_MAX, opacity: 0.6, color: "#ffffff",
        hover: false, note: "", broken: "", refused: "",
    };

    const byId = (name) => document.getElementById(`${ID}_${name}`);

    function status(text) {
        const line = byId("status");
        if (line) line.textContent = text;
    }

    function describe() {
        if (!state.src) return "Upload an image, then paint over the part to change.";
        const strokes = state.ops.slice(0, state.done).filter((op) => !op.clear).length;
        const tool = state.tool === "eraser" ? "Eraser" : "Brush";
        return `${tool} ${state.size} px · ${strokes} stroke${strokes === 1 ? "" : "s"}` +
            (state.note ? ` · ${state.note}` : "");
    }

    function refresh() {
        const undo = byId("undo"), redo = byId("redo"), clear = byId("clear");
        if (undo) undo.disabled = state.done === 0;
        if (redo) redo.disabled = state.done >= state.ops.length;
        if (clear) clear.disabled = !state.src;
        for (const name of ["brush", "eraser"]) {
            const button = byId(name);
            if (button) button.setAttribute("aria-pressed", String(state.tool === name));
        }
        const size = byId("size"), shown = byId("size_value");
        if (size && Number(size.value) !== state.size) size.value = String(state.size);
        if (shown) shown.textContent = String(state.size);
        status(describe());
    }

    // ---- the hidden field Generate reads -------------------------------------------------------------------
    function setMaskValue(value) {
        const box = document.querySelector(`#${ID}_mask textarea, #${ID}_mask input`);
        if (!box || box.value === value) return;
        box.value = value;
        box.dispatchEvent(new Event("input", {bubbles: true}));
    }

    function painted() {
        const {canvas, ctx} = state;
        if (!canvas || !canvas.width) return false;
        const alpha = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < alpha.length; i += 4) if (alpha[i] >= 128) return true;
        return false;
    }

    function publish() {
        setMaskValue(state.src && painted() ? state.canvas.toDataURL("image/png") : "");
        refresh();
    }

    // ---- drawing --------------------------------------------------------------------------------------------
    function drawSegment(stroke, i) {
        const {ctx} = state, p = stroke.points[i];
        ctx.save();
        ctx.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
        ctx.strokeStyle = ctx.fillStyle = state.color;
        ctx.lineWidth = stroke.width;
        ctx.lineCap = ctx.lineJoin = "round";
        ctx.beginPath();
        if (i === 0) {
            ctx.arc(p[0], p[1], stroke.width / 2, 0, 2 * Math.PI);
            ctx.fill();
        } else {
            const q = stroke.points[i - 1];
            ctx.moveTo(q[0], q[1]);
            ctx.lineTo(p[0], p[1]);
            ctx.stroke();
        }
        ctx.restore();
    }

    function replay() {
        const {canvas, ctx} = state;
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        for (const op of state.ops.slice(0, state.done)) {
            if (op.clear) ctx.clearRect(0, 0, canvas.width, canvas.height);
            else op.points.forEach((_, i) => drawSegment(op, i));
        }
    }

    function commit(op) {
        state.ops = state.ops.slice(0, state.done);
        state.ops.push(op);
        state.done = state.ops.length;
        publish();
    }

    function undo() {
        if (state.stroke || state.done === 0) return;
        state.done -= 1;
        replay();
        publish();
    }

    function redo() {
        if (state.stroke || state.done >= state.ops.length) return;
        state.done += 1;
        replay();
        publish();
    }

    function clearMask() {
        if (!state.src || !painted()) return;
        commit({clear: true});
        replay();
        publish();
    }

    function setSize(value) {
        state.size = Math.max(SIZE_MIN, Math.min(state.sizeMax, Math.round(value)));
        refresh();
        moveCursor();
    }

    function stepSize(direction) {
        setSize(state.size + direction * Math.max(1, Math.round(state.size * 0.15)));
    }

    function setTool(tool) {
        state.tool = tool;
        refresh();
    }

    // ---- pointer input --------------------------------------------------------------------------------------
    function toMask(event) {
        const rect = state.canvas.getBoundingClientRect();
        return [(event.clientX - rect.left) * state.canvas.width / rect.width,
            (event.clientY - rect.top) * state.canvas.height / rect.height];
    }

    function onDown(event) {
        if (!state.src || state.stroke) return;
        if (event.pointerType === "mouse" && event.button !== 0) return;
        event.preventDefault();
        try { state.canvas.setPointerCapture(event.pointerId); } catch (e) { /* synthetic pointer ids */ }
        const erase = state.tool === "eraser" || event.button === 5 || (event.buttons & 32) !== 0;  // pen's eraser end
        const scale = state.canvas.width / state.natural[0];
        state.stroke = {id: event.pointerId, erase, width: Math.max(1, state.size * scale), points: [toMask(event)]};
        drawSegment(state.stroke, 0);
    }

    function onMove(event) {
        state.hover = true;
        moveCursor(event);
        const stroke = state.stroke;
        if (!stroke || event.pointerId !== stroke.id) return;
        event.preventDefault();
        const events = (event.getCoalescedEvents && event.getCoalescedEvents()) || [];
        for (const e of events.length ? events : [event]) {
            stroke.points.push(toMask(e));
            drawSegment(stroke, stroke.points.length - 1);
        }
    }

    function onUp(event) {
        const stroke = state.stroke;
        if (!stroke || event.pointerId !== stroke.id) return;
        if (event.type === "pointerup") stroke.points.push(toMask(event));
        drawSegment(stroke, stroke.points.length - 1);
        state.stroke = null;
        commit(stroke);
    }

    function moveCursor(event) {
        const {cursor, canvas} = state;
        if (!cursor || !canvas) return;
        if (event) {
            if (event.pointerType === "touch") { cursor.style.display = "none"; return; }
            const root = state.root, base = root.getBoundingClientRect();
            cursor.style.left = `${event.clientX - base.left - root.clientLeft}px`;
            cursor.style.top = `${event.clientY - base.top - root.clientTop}px`;
        }
        const shown = canvas.getBoundingClientRect().width / (state.natural[0] || 1);
        const diameter = Math.max(4, state.size * shown);
        cursor.style.width = cursor.style.height = `${diameter}px`;
        cursor.style.display = state.hover ? "block" : "none";
    }

    function onWheel(event) {
        if (!state.src) return;
        event.preventDefault();
        stepSize(event.deltaY < 0 ? 1 : -1);
    }

    // ---- the picture: follow uploads, removals and layout ---------------------------------------------------
    function contentRect(img) {
        const r = img.getBoundingClientRect();
        const [nw, nh] = [img.naturalWidth, img.naturalHeight];
        const fit = getComputedStyle(img).objectFit;
        if (fit !== "contain" && fit !== "scale-down") return r;
        const scale = Math.min(r.width / nw, r.height / nh, fit === "scale-down" ? 1 : Infinity);
        const w = nw * scale, h = nh * scale;
        return {left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, width: w, height: h};
    }

    function place() {
        const {canvas, img, root} = state;
        if (!img || !state.src) { canvas.style.display = "none"; return; }
        const r = contentRect(img), base = root.getBoundingClientRect();
        if (!r.width || !r.height) { canvas.style.display = "none"; return; }
        Object.assign(canvas.style, {display: "block", left: `${r.left - base.left - root.clientLeft}px`,
            top: `${r.top - base.top - root.clientTop}px`, width: `${r.width}px`, height: `${r.height}px`,
            opacity: String(state.opacity)});
    }

    function newPicture(img) {
        const [w, h] = [img.naturalWidth, img.naturalHeight];
        state.stroke = null;
        state.ops = [];
        state.done = 0;
        if (w * h > MAX_PIXELS) {
            state.src = "";
            state.note = "";
            setMaskValue("");
            state.refused = img.src;
            const most = Math.floor(MAX_PIXELS / 1e6);
            status(`This picture is ${w}×${h}: too large to paint a mask on here (at most ${most} megapixels). ` +
                "Use Inpaint upload with a mask file, or a smaller picture.");
            return;
        }
        const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
        state.canvas.width = Math.max(1, Math.round(w * scale));
        state.canvas.height = Math.max(1, Math.round(h * scale));
        state.natural = [w, h];
        state.sizeMax = Math.max(SIZE_MAX, Math.round(Math.max(w, h) / 4));
        if (byId("size")) byId("size").max = String(state.sizeMax);
        state.src = img.src;
        state.note = scale < 1 ? `large picture (${w}×${h}): the mask is painted at ` +
            `${state.canvas.width}×${state.canvas.height} and scaled to it on Generate` : "";
        publish();
    }

    function sync() {
        if (!state.root || !state.root.isConnected) return;
        const img = [...state.root.querySelectorAll(".image-frame img, img")].find((i) => i.getAttribute("src"));
        if (img !== state.img) {
            state.img = img || null;
            if (img) for (const type of ["load", "error"]) img.addEventListener(type, schedule);
        }
        if (!img) {
            if (state.src) { state.src = ""; state.note = ""; state.ops = []; state.done = 0; publish(); }
        } else if (img.complete && img.naturalWidth && img.src !== state.src && img.src !== state.refused) {
            newPicture(img);
        } else if (img.complete && !img.naturalWidth && img.src !== state.broken) {
            state.broken = img.src;  // Gradio took the file but the browser cannot show it
            state.src = "";
            setMaskValue("");
            status("That file is not an image the browser can show: upload a PNG, JPEG or WebP picture.");
        }
        place();
    }

    let pending = false;
    function schedule() {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => { pending = false; sync(); });
    }

    // ---- wiring ---------------------------------------------------------------------------------------------
    function typing(target) {
        return target && (target.isContentEditable || target.tagName === "TEXTAREA" ||
            (target.tagName === "INPUT" && !["range", "color", "button"].includes(target.type)));
    }

    function onKey(event) {
        if (!state.src || !state.root.isConnected || typing(event.target)) return;
        const editor = byId("editor");
        if (!(state.hover || (editor && editor.contains(document.activeElement)))) return;
        const key = event.key.toLowerCase(), command = event.ctrlKey || event.metaKey;
        const actions = {"[": () => stepSize(-1), "]": () => stepSize(1), b: () => setTool("brush"),
            e: () => setTool("eraser")};
        let action = command ? null : actions[key];
        if (command && key === "z") action = event.shiftKey ? redo : undo;
        if (command && key === "y") action = redo;
        if (!action) return;
        event.preventDefault();
        action();
    }

    function onClick(event) {
        const button = event.target.closest && event.target.closest(`[id^="${ID}_"]`);
        if (!button || button.tagName !== "BUTTON") return;
        const actions = {brush: () => setTool("brush"), eraser: () => setTool("eraser"), undo, redo, clear: clearMask};
        const action = actions[button.id.slice(ID.length + 1)];
        if (action) action();
    }

    function onInput(event) {
        const id = event.target && event.target.id;
        if (id === `${ID}_size`) setSize(Number(event.target.value));
        else if (id === `${ID}_opacity`) { state.opacity = Number(event.target.value) / 100; place(); }
        else if (id === `${ID}_color`) { state.color = event.target.value; if (state.canvas) replay(); }
    }

    function attach(root) {
        state.root = root;
        if (!state.canvas) {
            state.canvas = document.createElement("canvas");
            state.canvas.className = "mask-editor-canvas";
            state.canvas.setAttribute("aria-label", "Inpaint mask: paint over the part of the picture to change");
            state.ctx = state.canvas.getContext("2d", {willReadFrequently: true});
            state.cursor = document.createElement("div");
            state.cursor.className = "mask-editor-cursor";
            const c = state.canvas;
            c.addEventListener("pointerdown", onDown);
            c.addEventListener("pointermove", onMove);
            for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) c.addEventListener(type, onUp);
            c.addEventListener("pointerenter", (e) => { state.hover = true; moveCursor(e); });
            c.addEventListener("pointerleave", () => { state.hover = false; moveCursor(); });
            c.addEventListener("wheel", onWheel, {passive: false});
            c.addEventListener("contextmenu", (e) => e.preventDefault());
        }
        root.append(state.canvas, state.cursor);
        new MutationObserver(schedule).observe(root, {subtree: true, childList: true, attributes: true,
            attributeFilter: ["src", "class", "style"]});
        new ResizeObserver(schedule).observe(root);
        for (const name of ["size", "opacity", "color"]) {
            const control = byId(name);
            if (control) onInput({target: control});
        }
        schedule();
    }

    function watch() {
        const root = document.getElementById(ID);
        if (root && root !== state.root) attach(root);
        else if (root && !root.contains(state.canvas)) root.append(state.canvas, state.cursor);
    }

    function start() {
        new MutationObserver(watch).observe(document.body, {childList: true, subtree: true});
        document.addEventListener("click", onClick);
        document.addEventListener("input", onInput);
        document.addEventListener("keydown", onKey);
        window.addEventListener("resize", schedule);
        watch();
    }

    // A small read-only view for tests and extensions: how many strokes are applied and how big the brush is.
    window.easelMaskEditor = {
        state: () => ({strokes: state.done, total: state.ops.length, size: state.size, tool: state.tool,
            mask: state.canvas ? [state.canvas.width, state.canvas.height] : null, picture: state.natural}),
    };

    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
})();
