// A1111's aspect-ratio preview: while img2img's width or height changes, a frame over the input image shows the
// part of it the chosen size covers, for two seconds. Extensions that set the size call dimensionChange()
// themselves (sd-webui-aspect-ratio-helper), with a fake event whose target is the changed input.
"use strict";

let currentWidth = null;
let currentHeight = null;
let arFrameTimeout = null;
const EASEL_AR_IMAGES = ["#img2img_image", "#img2img_sketch", "#img2maskimg", "#inpaint_sketch"];  // by mode tab

function easelInImg2img() {
    const tab = gradioApp().querySelector("#tab_img2img");
    return Boolean(tab) && tab.style.display !== "none";
}

function easelArFrame() {
    let frame = gradioApp().querySelector("#imageARPreview");
    if (!frame) {
        frame = document.createElement("div");
        frame.id = "imageARPreview";
        gradioApp().appendChild(frame);
    }
    return frame;
}

function dimensionChange(event, isWidth, isHeight) {
    if (isWidth) currentWidth = Number(event.target.value);
    if (isHeight) currentHeight = Number(event.target.value);
    if (!easelInImg2img() || !(currentWidth > 0 && currentHeight > 0)) return;
    const selector = EASEL_AR_IMAGES[get_tab_index("mode_img2img")];
    const image = selector && gradioApp().querySelector(`${selector} img`);
    if (!image || !image.naturalWidth || !image.naturalHeight) return;
    const box = image.getBoundingClientRect();
    const shown = Math.min(image.clientWidth / image.naturalWidth, image.clientHeight / image.naturalHeight);
    const scale = Math.min(image.naturalWidth * shown / currentWidth, image.naturalHeight * shown / currentHeight);
    const width = currentWidth * scale;
    const height = currentHeight * scale;
    const frame = easelArFrame();
    frame.style.left = `${box.left + window.scrollX + (image.clientWidth - width) / 2}px`;
    frame.style.top = `${box.top + window.scrollY + (image.clientHeight - height) / 2}px`;
    frame.style.width = `${width}px`;
    frame.style.height = `${height}px`;
    frame.style.display = "block";
    clearTimeout(arFrameTimeout);
    arFrameTimeout = setTimeout(() => { frame.style.display = "none"; }, 2000);
}

// img2img's own width and height inputs (slider and number box) move the frame as the user changes them.
function easelWatchImg2imgSize() {
    for (const [id, isWidth] of [["img2img_width", true], ["img2img_height", false]]) {
        for (const input of gradioApp().querySelectorAll(`#${id} input`)) {
            if (input.dataset.arWatched) continue;
            input.dataset.arWatched = "1";
            input.addEventListener("input", (event) => dimensionChange(event, isWidth, !isWidth));
            if (isWidth) currentWidth = Number(input.value);
            else currentHeight = Number(input.value);
        }
    }
}

(function easelArStart() {
    if (typeof onUiLoaded !== "function") {  // Gradio may run this file before easel.js
        setTimeout(easelArStart, 20);
        return;
    }
    onUiLoaded(easelWatchImg2imgSize);
})();
