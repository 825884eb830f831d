// Ctrl+↑ / Ctrl+↓ in a prompt box changes the emphasis weight of the selected words, as in A1111:
// "cat" → "(cat:1.1)" → "(cat:1.2)"; back at 1.0 the brackets go away. With nothing selected, the word under
// the cursor (or the "(…:w)" block around it) is used.
"use strict";

const EASEL_WEIGHT_STEP = 0.1;
const EASEL_WORD_DELIMITERS = " .,\\/!?%^*;:{}=`~()[]<>|\n\t\r";

function easelSelectBlock(text, cursor) {
    const open = text.lastIndexOf("(", cursor - 1);
    const close = text.indexOf(")", cursor);
    if (open === -1 || close === -1 || text.lastIndexOf(")", cursor - 1) > open) return null;
    const inner = text.slice(open + 1, close);
    const colon = inner.lastIndexOf(":");
    if (colon === -1 || isNaN(parseFloat(inner.slice(colon + 1)))) return null;
    return [open + 1, open + 1 + colon];
}

function easelSelectWord(text, cursor) {
    let start = cursor, end = cursor;
    while (start > 0 && !EASEL_WORD_DELIMITERS.includes(text[start - 1])) start--;
    while (end < text.length && !EASEL_WORD_DELIMITERS.includes(text[end])) end++;
    return start === end ? null : [start, end];
}

// Pure: (text, selection start, end, +1/-1) → [new text, new start, new end].
function easelEditWeight(text, start, end, direction) {
    while (start < end && text[start] === " ") start++;
    while (end > start && text[end - 1] === " ") end--;
    const after = text.slice(end).match(/^:(-?\d+(?:\.\d+)?)\)/);
    if (text[start - 1] === "(" && after) {
        const weight = Math.round((parseFloat(after[1]) + direction * EASEL_WEIGHT_STEP) * 100) / 100;
        if (weight === 1) {
            const inner = text.slice(start, end);
            return [text.slice(0, start - 1) + inner + text.slice(end + after[0].length), start - 1, end - 1];
        }
        const number = weight.toFixed(Math.max(1, (String(weight).split(".")[1] || "").length));
        return [text.slice(0, end) + ":" + number + ")" + text.slice(end + after[0].length), start, end];
    }
    const number = (1 + direction * EASEL_WEIGHT_STEP).toFixed(1);
    return [text.slice(0, start) + "(" + text.slice(start, end) + ":" + number + ")" + text.slice(end),
        start + 1, end + 1];
}

function easelEditAttention(event) {
    const target = event.target;
    if (target.tagName !== "TEXTAREA" || !target.closest(".prompt")) return;
    if (!(event.ctrlKey || event.metaKey) || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    let start = target.selectionStart, end = target.selectionEnd;
    if (start === end) {
        const range = easelSelectBlock(target.value, start) || easelSelectWord(target.value, start);
        if (!range) return;
        [start, end] = range;
    }
    const [text, newStart, newEnd] = easelEditWeight(target.value, start, end, event.key === "ArrowUp" ? 1 : -1);
    target.value = text;
    target.setSelectionRange(newStart, newEnd);
    target.dispatchEvent(new Event("input", {bubbles: true}));
}

document.addEventListener("keydown", easelEditAttention);
