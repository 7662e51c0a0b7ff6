// The page of the matting service: choose a photo and a background, POST /matte, show the result;
// then keep or drop the people found (POST /people), paint corrections sent as a hint image, and
// compare, zoom and pan. Every change redoes the result. Plain JavaScript, no libraries;
// everything it calls is on the same service (relative URLs).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("form");
  const photoInput = $("photo");
  const drop = $("drop");
  const photoName = $("photo-name");
  const dropPreview = $("drop-preview");
  const namedBackgrounds = $("named-backgrounds");
  const backgroundChoices = $("background-choices");
  const colour = $("colour");
  const backgroundFile = $("background-file");
  const output = $("output");
  const format = $("format");
  const effects = $("effects");
  const effectRanges = [...effects.querySelectorAll('input[type="range"]')];
  const effectsApplied = $("effects-applied");
  // The formats that keep an alpha channel, as the service states them (filled into the page).
  const alphaFormats = format.dataset.alphaFormats.split(" ").filter(Boolean);
  const tools = $("tools");
  const toolHint = $("tool-hint");
  const brushSize = $("brush-size");
  const undoButton = $("undo");
  const redoButton = $("redo");
  const stage = $("stage");
  const layers = $("layers");
  const outlines = $("outlines");
  const showOutlines = $("show-outlines");
  const strokesCanvas = $("strokes");
  const divider = $("divider");
  const compare = $("compare");
  const zoomLevel = $("zoom-level");
  const progress = $("progress");
  const progressText = $("progress-text");
  const errorBox = $("error");
  const views = $("views");
  const original = $("original");
  const result = $("result");
  const resultCaption = $("result-caption");
  const app = $("app");
  const done = $("done");
  const info = $("info");
  const download = $("download");

  // Plain words for the service's error codes; the service's own message is shown under them.
  const MESSAGES = {
    not_an_image: (what) => `That ${what} is not a picture this service can read. ` +
      "Choose a photo in one of the formats the message below names.",
    corrupt_image: (what) => `That ${what} is damaged or cut short, so it cannot be read.`,
    empty_upload: (what) => `That ${what} is an empty file.`,
    too_large: (what) => `That ${what} is too large for this service. Choose a smaller file.`,
    too_many_pixels: (what) => `That ${what} has too many pixels for this service. ` +
      "Choose a smaller one.",
    image_side_too_large: (what) => `That ${what} is too wide or too tall for this ` +
      "service. Choose a smaller one.",
    too_large_for_format: () => "The result is too large for a WebP file. Choose PNG.",
    no_person: () => "No person was found in this photo. Only people are cut out: " +
      "try a photo where someone is clearly visible.",
    segmentation_unavailable: () => "The part of the service that finds people is not " +
      "running right now. Try again in a minute.",
    segmentation_timeout: () => "Finding the people took too long. Try again, or use a " +
      "smaller photo.",
    segmentation_failed: () => "The part of the service that finds people failed on this " +
      "photo. Try again in a minute.",
    segmentation_bad_answer: () => "The part of the service that finds people gave an " +
      "answer that cannot be used. Try again in a minute.",
    api_key_missing: () => "This service needs an API key. Enter it below to go on.",
    api_key_invalid: () => "That API key was not accepted. Check it and enter it again.",
    bad_background: () => "That background cannot be used.",
    bad_parameter: () => "One of the choices was not accepted.",
    no_such_person: () => "That person is not found in this photo any more. Choose the " +
      "photo again.",
    bad_hint: () => "The corrections do not fit this photo. Undo them or choose the photo " +
      "again.",
  };

  // The brush: what each mode writes into the hint image (a trimap value where it is opaque)
  // and the colour it shows in over the photo.
  const BRUSH = {
    keep: { value: 255, colour: [40, 200, 90] },
    remove: { value: 0, colour: [235, 45, 70] },
    edge: { value: 128, colour: [250, 190, 0] },
  };
  const OVERLAY_ALPHA = 120;
  const TOOL_HINTS = {
    people: "Click a person to keep only them; then click others to add or drop them.",
    keep: "Paint over what is surely person: it stays, opaque.",
    remove: "Paint over what is surely background: it goes, transparent.",
    edge: "Paint over an edge (hair, fur) for the matting to decide.",
    move: "Drag to move around the photo; zoom with the buttons or the mouse wheel.",
  };
  const MAX_ZOOM = 8;
  const CACHE_SIZE = 12; // results kept by request, so that undo shows its result at once

  let photo = null; // the chosen File
  let photoSerial = 0;
  let size = null; // the photo's { width, height } once it has loaded
  let resultUrl = null;
  let originalUrl = null;
  let controller = null;
  let sequence = 0;
  let pending = 0;
  let ticker = 0;
  let hasResult = false;
  let people = null; // { list, labels (Uint8Array: 0 nobody, 1 + index), width, height }
  let kept = null; // Set of the indices kept; null: everyone
  let strokes = []; // { id, mode, radius, points: [{x, y}] } in the photo's pixels
  let undone = [];
  let strokeSerial = 0;
  let drawing = null; // the stroke under the pointer
  let panning = null;
  let comparing = null; // the pointer dragging the before/after divider
  let hint = null; // { data: ImageData, overlay: ImageData }, at the photo's size
  const hintCanvas = document.createElement("canvas"); // hidden: the hint image that is sent
  let view = { scale: 1, x: 0, y: 0 };
  let fitted = true;
  const cache = new Map();

  function setState(state) {
    form.dataset.state = state;
    form.setAttribute("aria-busy", String(state === "busy"));
  }

  // ---- choices -------------------------------------------------------------------------------

  function backgroundChoice() {
    const checked = form.querySelector('input[name="background"]:checked');
    if (!checked) return { kind: "default", value: "" };
    if (checked.value === "colour") return { kind: "colour", value: colour.value };
    if (checked.value === "upload") return { kind: "upload", value: "your picture" };
    if (checked.dataset.named) return { kind: "named", value: checked.value };
    return { kind: checked.value, value: checked.value };
  }

  function needsAlpha() {
    return output.value === "cutout" ||
      (output.value === "composite" && backgroundChoice().kind === "transparent");
  }

  // A transparent result needs a format with alpha; the background means nothing unless the
  // output is a composite.
  function syncChoices() {
    const alpha = needsAlpha();
    for (const option of format.options) {
      option.disabled = alpha && !alphaFormats.includes(option.value);
    }
    if (format.selectedOptions[0].disabled) format.value = alphaFormats[0];
    backgroundChoices.disabled = output.value !== "composite";
    effects.disabled = output.value !== "composite";
  }

  // The effects turned on, as /matte's fields: [[name, value], …].
  function effectFields() {
    if (output.value !== "composite") return [];
    return effectRanges.filter((range) => $(range.dataset.toggle).checked)
      .map((range) => [range.dataset.field, range.value]);
  }

  // Each slider's range as the service documents it (/openapi.json): declared once there.
  async function loadEffectRanges() {
    try {
      const response = await fetch("openapi.json");
      if (!response.ok) return;
      const document = await response.json();
      const fields = document.paths["/matte"].post.requestBody.content["multipart/form-data"]
        .schema.properties;
      for (const range of effectRanges) {
        const field = fields[range.dataset.field];
        if (field) Object.assign(range, { min: field.minimum, max: field.maximum });
      }
    } catch (error) {
      // The sliders keep the ranges written in the page.
    }
  }

  function describe(choice) {
    if (output.value === "cutout") return "cutout";
    if (output.value === "alpha") return "alpha matte";
    if (choice.kind === "default") return "over the default background";
    if (choice.kind === "transparent") return "over a transparent background";
    if (choice.kind === "blur") return "over the photo's own background, blurred";
    return `over ${choice.value}`;
  }

  function downloadName() {
    const stem = (photo.name.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "-")
      .replace(/^[-.]+|[-.]+$/g, "") || "photo").slice(0, 80);
    const extension = format.value === "jpeg" ? "jpg" : format.value;
    return `${stem}-${output.value}.${extension}`;
  }

  function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} kB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function currentTool() {
    return tools.querySelector('input[name="tool"]:checked').value;
  }

  // The "people" field: empty for everyone (the service's default), else the indices kept.
  function peopleField() {
    if (!people || !kept || kept.size === people.list.length) return "";
    return [...kept].sort((a, b) => a - b).join(",");
  }

  // ---- showing state -------------------------------------------------------------------------

  function startProgress() {
    const started = performance.now();
    progress.hidden = false;
    const tick = () => {
      const seconds = (performance.now() - started) / 1000;
      progressText.textContent = `Cutting out the people… ${seconds.toFixed(1)} s`;
    };
    tick();
    clearInterval(ticker);
    ticker = setInterval(tick, 100);
    return started;
  }

  function stopProgress() {
    clearInterval(ticker);
    progress.hidden = true;
    progressText.textContent = "";
  }

  function hideResult() {
    result.hidden = true;
    result.removeAttribute("src");
    delete result.dataset.background;
    resultCaption.textContent = "Result";
    done.hidden = true;
    divider.hidden = true;
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = null;
  }

  function showError(text, detail = "", code = "") {
    $("error-text").textContent = text;
    $("error-detail").textContent = detail;
    $("error-detail").hidden = !detail || detail === text;
    $("key-entry").hidden = !code.startsWith("api_key_");
    errorBox.hidden = false;
    views.hidden = false;
    setState("error");
  }

  // The API key, when the service asks for one: asked once, kept for this tab only.
  const KEY_STORE = "matting-api-key";

  function keyHeaders() {
    const key = sessionStorage.getItem(KEY_STORE);
    return key ? { "X-Api-Key": key } : {};
  }

  function hideError() {
    errorBox.hidden = true;
  }

  async function errorFrom(response) {
    let code = "";
    let message = "";
    try {
      const body = await response.json();
      code = String(body.error.code);
      message = String(body.error.message);
    } catch {
      return { text: `The service answered with an error (HTTP ${response.status}).`, code };
    }
    const what = message.includes("'background'") ? "background picture" : "file";
    const plain = MESSAGES[code];
    // The no-person message speaks to API users (its if_no_person field); people get the words.
    const hidden = code === "no_person" || code.startsWith("api_key_");
    return { text: plain ? plain(what) : message, detail: hidden ? "" : message, code };
  }

  async function showResult(blob, seconds, choice, applied = "none") {
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(blob);
    result.src = resultUrl;
    await result.decode();
    result.hidden = false;
    result.dataset.background = choice.value;
    result.dataset.effects = applied;
    effectsApplied.textContent = applied;
    resultCaption.textContent = `Result: ${describe(choice)}`;
    const name = downloadName();
    info.textContent = `${result.naturalWidth} × ${result.naturalHeight} px · ` +
      `${format.value.toUpperCase()} · ${formatBytes(blob.size)} · ${seconds.toFixed(1)} s`;
    download.href = resultUrl;
    download.download = name;
    download.textContent = `Download ${name}`;
    done.hidden = false;
    views.hidden = false;
    hasResult = true;
    tools.disabled = false;
    showCompare();
    drawOutlines();
  }

  // ---- the request ---------------------------------------------------------------------------

  // Forget the request in flight, if any: only the latest choice matters.
  function cancel() {
    if (controller) controller.abort();
    sequence += 1;
    stopProgress();
  }

  // What makes one result differ from another: equal keys, equal answers.
  function requestKey(choice, chosenPeople) {
    const picture = backgroundFile.files[0];
    const background = choice.kind === "upload" && picture
      ? `upload:${picture.name}:${picture.size}:${picture.lastModified}` : choice.value;
    return JSON.stringify([photoSerial, output.value, format.value, output.value === "composite"
      ? background : "", chosenPeople, strokes.map((stroke) => stroke.id), effectFields()]);
  }

  function remember(key, entry) {
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
  }

  async function run() {
    clearTimeout(pending);
    cancel();
    if (!photo) {
      showError("Choose a photo first.");
      return;
    }
    const choice = backgroundChoice();
    const body = new FormData();
    body.append("image", photo, photo.name);
    body.append("output", output.value);
    body.append("format", format.value);
    if (output.value === "composite" && choice.kind === "upload") {
      const picture = backgroundFile.files[0];
      if (!picture) {
        showError("Choose a picture for the background, or pick another background.");
        return;
      }
      body.append("background", picture, picture.name);
    } else if (output.value === "composite" && choice.kind !== "default") {
      body.append("background", choice.value);
    }
    for (const [name, value] of effectFields()) body.append(name, value);
    const chosenPeople = peopleField();
    if (chosenPeople) body.append("people", chosenPeople);
    const key = requestKey(choice, chosenPeople);

    controller = new AbortController();
    const mine = sequence;
    hideError();
    const cached = cache.get(key);
    if (cached) {
      await showResult(cached.blob, cached.seconds, choice, cached.applied);
      if (mine === sequence) setState("done");
      return;
    }
    setState("busy");
    const started = startProgress();
    try {
      if (strokes.length) body.append("hint", await hintBlob(), "hint.png");
      if (mine !== sequence) return;
      const response = await fetch("matte", {
        method: "POST", body, headers: keyHeaders(), signal: controller.signal });
      if (!response.ok) {
        const error = await errorFrom(response);
        if (mine !== sequence) return;
        hideResult();
        showError(error.text, error.detail, error.code);
        return;
      }
      const blob = await response.blob();
      if (mine !== sequence) return;
      const seconds = (performance.now() - started) / 1000;
      const applied = response.headers.get("X-Effects") || "none";
      remember(key, { blob, seconds, applied });
      await showResult(blob, seconds, choice, applied);
      if (mine === sequence) setState("done");
    } catch (error) {
      if (error.name === "AbortError" || mine !== sequence) return;
      hideResult();
      if (error.name === "EncodingError") {
        showError("The service answered, but its result cannot be shown as a picture.");
      } else {
        showError("The service cannot be reached. Check that it is running, then try again.",
          String(error.message || error));
      }
    } finally {
      if (mine === sequence) stopProgress();
    }
  }

  // Several events can follow one action (a colour's input and change): run once after them.
  function schedule() {
    syncChoices();
    if (!photo) return;
    clearTimeout(pending);
    pending = setTimeout(run, 50);
  }

  // ---- the people ----------------------------------------------------------------------------

  async function labelsFrom(url, width, height) {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement("canvas");
    Object.assign(canvas, { width, height });
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(image, 0, 0);
    const rgba = context.getImageData(0, 0, width, height).data;
    const labels = new Uint8Array(width * height);
    for (let i = 0; i < labels.length; i += 1) labels[i] = rgba[4 * i];
    return labels;
  }

  async function fetchPeople() {
    const serial = photoSerial;
    const body = new FormData();
    body.append("image", photo, photo.name);
    try {
      const response = await fetch("people", { method: "POST", body, headers: keyHeaders() });
      if (!response.ok || serial !== photoSerial) return;
      const answer = await response.json();
      const labels = await labelsFrom(answer.index_mask, answer.width, answer.height);
      if (serial !== photoSerial) return;
      people = { list: answer.people, labels, width: answer.width, height: answer.height };
      views.dataset.people = String(answer.people.length);
      drawOutlines();
    } catch {
      // Without the list the other tools still work; the result says what went wrong.
    }
  }

  // Each person's outline (thick enough to see at the fitted zoom), the people dropped dimmed.
  function drawOutlines() {
    if (!people || !hasResult) return;
    const { width, height, labels } = people;
    const t = Math.max(1, Math.round(2 / fitScale()));
    const drawn = `${photoSerial}|${t}|${kept ? [...kept].sort().join(",") : "all"}`;
    if (outlines.dataset.drawn === drawn) return; // a new result, the same people: as they are
    outlines.dataset.drawn = drawn;
    if (outlines.width !== width || outlines.height !== height) {
      Object.assign(outlines, { width, height });
    }
    const context = outlines.getContext("2d");
    const image = context.createImageData(width, height);
    const rgba = image.data;
    const at = (x, y) => (x < 0 || y < 0 || x >= width || y >= height ? 0 : labels[y * width + x]);
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        const label = labels[y * width + x];
        if (!label) continue;
        const keptOne = !kept || kept.has(label - 1);
        const edge = at(x - t, y) !== label || at(x + t, y) !== label ||
          at(x, y - t) !== label || at(x, y + t) !== label;
        const i = 4 * (y * width + x);
        if (edge) {
          rgba.set(keptOne ? [24, 212, 255, 255] : [235, 45, 70, 255], i);
        } else if (!keptOne) {
          rgba.set([20, 24, 32, 110], i);
        }
      }
    }
    context.putImageData(image, 0, 0);
  }

  function togglePerson(point) {
    if (!people) {
      toolHint.textContent = "The people are still being found; try again in a moment.";
      return;
    }
    const x = Math.floor(point.x * people.width / size.width);
    const y = Math.floor(point.y * people.height / size.height);
    const label = people.labels[y * people.width + x];
    if (!label) {
      toolHint.textContent = "Nobody there: click inside a person's outline.";
      return;
    }
    if (!kept) {
      kept = new Set([label - 1]); // the first click keeps that person alone
    } else if (kept.has(label - 1) && kept.size === 1) {
      toolHint.textContent = "Keep at least one person: click another one first.";
      return;
    } else if (kept.has(label - 1)) {
      kept.delete(label - 1);
    } else {
      kept.add(label - 1);
    }
    toolHint.textContent = `Keeping ${kept.size} of ${people.list.length} people.`;
    drawOutlines();
    setOutlines(false);
    schedule();
  }

  // ---- the brush -----------------------------------------------------------------------------

  function ensureHint() {
    if (hint) return hint;
    const { width, height } = size;
    Object.assign(hintCanvas, { width, height });
    Object.assign(strokesCanvas, { width, height });
    const context = strokesCanvas.getContext("2d");
    hint = { data: new ImageData(width, height), overlay: context.createImageData(width, height) };
    return hint;
  }

  function stampDisc(cx, cy, radius, mode) {
    const { width, height } = size;
    const { value, colour } = BRUSH[mode];
    const { data, overlay } = hint;
    const x0 = Math.max(0, Math.floor(cx - radius));
    const x1 = Math.min(width - 1, Math.ceil(cx + radius));
    const y0 = Math.max(0, Math.floor(cy - radius));
    const y1 = Math.min(height - 1, Math.ceil(cy + radius));
    const r2 = radius * radius;
    for (let y = y0; y <= y1; y += 1) {
      const dy = y + 0.5 - cy;
      for (let x = x0; x <= x1; x += 1) {
        const dx = x + 0.5 - cx;
        if (dx * dx + dy * dy > r2) continue;
        const i = 4 * (y * width + x);
        data.data[i] = data.data[i + 1] = data.data[i + 2] = value;
        data.data[i + 3] = 255;
        overlay.data[i] = colour[0];
        overlay.data[i + 1] = colour[1];
        overlay.data[i + 2] = colour[2];
        overlay.data[i + 3] = OVERLAY_ALPHA;
      }
    }
  }

  // Discs along the segment, close enough to make a solid line; returns the box painted.
  function stampSegment(stroke, from, to) {
    const step = Math.max(1, stroke.radius / 3);
    const steps = Math.max(1, Math.ceil(Math.hypot(to.x - from.x, to.y - from.y) / step));
    for (let i = 0; i <= steps; i += 1) {
      stampDisc(from.x + (to.x - from.x) * i / steps, from.y + (to.y - from.y) * i / steps,
        stroke.radius, stroke.mode);
    }
    const r = stroke.radius + 1;
    return { x0: Math.min(from.x, to.x) - r, y0: Math.min(from.y, to.y) - r,
      x1: Math.max(from.x, to.x) + r, y1: Math.max(from.y, to.y) + r };
  }

  function showOverlay(box = null) {
    const context = strokesCanvas.getContext("2d");
    if (!box) {
      context.putImageData(hint.overlay, 0, 0);
      return;
    }
    const x = Math.max(0, Math.floor(box.x0));
    const y = Math.max(0, Math.floor(box.y0));
    const w = Math.min(size.width, Math.ceil(box.x1)) - x;
    const h = Math.min(size.height, Math.ceil(box.y1)) - y;
    if (w > 0 && h > 0) context.putImageData(hint.overlay, 0, 0, x, y, w, h);
  }

  // Paint every stroke again from nothing (after an undo or a redo).
  function repaint() {
    if (!size) return;
    ensureHint();
    hint.data.data.fill(0);
    hint.overlay.data.fill(0);
    for (const stroke of strokes) {
      stroke.points.forEach((point, i) => {
        stampSegment(stroke, stroke.points[Math.max(0, i - 1)], point);
      });
    }
    showOverlay();
  }

  function hintBlob() {
    hintCanvas.getContext("2d").putImageData(hint.data, 0, 0);
    return new Promise((resolve, reject) => {
      hintCanvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no hint"))),
        "image/png");
    });
  }

  function syncUndo() {
    undoButton.disabled = strokes.length === 0;
    redoButton.disabled = undone.length === 0;
  }

  function undo() {
    if (drawing || !strokes.length) return;
    undone.push(strokes.pop());
    repaint();
    syncUndo();
    schedule();
  }

  function redo() {
    if (drawing || !undone.length) return;
    strokes.push(undone.pop());
    repaint();
    syncUndo();
    schedule();
  }

  // ---- zoom, pan and compare -----------------------------------------------------------------

  function fitScale() {
    if (!size) return 1;
    return Math.min(stage.clientWidth / size.width, stage.clientHeight / size.height) || 1;
  }

  function applyView() {
    layers.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    layers.style.setProperty("--unscale", String(1 / view.scale));
    zoomLevel.textContent = `${Math.round(view.scale * 100)} %`;
    zoomLevel.dataset.scale = String(view.scale);
  }

  function fit() {
    if (!size) return;
    const scale = fitScale();
    view = { scale, x: (stage.clientWidth - size.width * scale) / 2,
      y: (stage.clientHeight - size.height * scale) / 2 };
    fitted = true;
    applyView();
  }

  // Zoom by ``factor`` keeping the stage point (cx, cy) where it is.
  function zoomAt(factor, cx = stage.clientWidth / 2, cy = stage.clientHeight / 2) {
    if (!size) return;
    const scale = Math.min(MAX_ZOOM, Math.max(fitScale() / 2, view.scale * factor));
    view = { scale, x: cx - (cx - view.x) * scale / view.scale,
      y: cy - (cy - view.y) * scale / view.scale };
    fitted = false;
    applyView();
  }

  function showCompare() {
    const share = Number(compare.value);
    result.style.clipPath = share > 0 ? `inset(0 0 0 ${share}%)` : "";
    divider.style.left = `${share}%`;
    divider.hidden = result.hidden;
  }

  // The divider follows the pointer across the photo: its share of the width, 0 to 100.
  function dragCompare(event) {
    const share = Math.min(100, Math.max(0, 100 * toPhoto(event).x / size.width));
    compare.value = String(Math.round(share));
    showCompare();
  }

  // A pointer event → the photo's pixel coordinates.
  function toPhoto(event) {
    const box = layers.getBoundingClientRect();
    return { x: (event.clientX - box.left) * size.width / box.width,
      y: (event.clientY - box.top) * size.height / box.height };
  }

  function onPointerDown(event) {
    if (!size) return;
    if (event.target.closest("#divider") && event.button === 0) {
      comparing = { id: event.pointerId };
      stage.setPointerCapture(event.pointerId);
      dragCompare(event);
      return;
    }
    const tool = currentTool();
    if (tool === "move" || event.button === 1 || !hasResult) {
      if (tool !== "move" && event.button !== 1) return;
      panning = { id: event.pointerId, x: event.clientX, y: event.clientY };
      stage.setPointerCapture(event.pointerId);
      return;
    }
    if (event.button !== 0) return;
    const point = toPhoto(event);
    if (point.x < 0 || point.y < 0 || point.x >= size.width || point.y >= size.height) return;
    if (tool === "people") {
      togglePerson(point);
      return;
    }
    ensureHint();
    const radius = Number(brushSize.value) / 2 / view.scale;
    drawing = { id: (strokeSerial += 1), mode: tool, radius, points: [point] };
    showOverlay(stampSegment(drawing, point, point));
    stage.setPointerCapture(event.pointerId);
  }

  function onPointerMove(event) {
    if (comparing && event.pointerId === comparing.id) {
      dragCompare(event);
    } else if (panning && event.pointerId === panning.id) {
      view.x += event.clientX - panning.x;
      view.y += event.clientY - panning.y;
      panning.x = event.clientX;
      panning.y = event.clientY;
      fitted = false;
      applyView();
    } else if (drawing) {
      const point = toPhoto(event);
      const last = drawing.points[drawing.points.length - 1];
      drawing.points.push(point);
      showOverlay(stampSegment(drawing, last, point));
    }
  }

  function onPointerUp() {
    panning = null;
    comparing = null;
    if (!drawing) return;
    strokes.push(drawing);
    drawing = null;
    undone = [];
    syncUndo();
    schedule();
  }

  // ---- the photo -----------------------------------------------------------------------------

  function resetEdits() {
    people = null;
    kept = null;
    strokes = [];
    undone = [];
    drawing = null;
    hint = null;
    hasResult = false;
    cache.clear();
    delete views.dataset.people;
    for (const canvas of [outlines, strokesCanvas]) Object.assign(canvas, { width: 0, height: 0 });
    delete outlines.dataset.drawn;
    tools.disabled = true;
    toolHint.textContent = TOOL_HINTS[currentTool()];
    setOutlines(true);
    syncUndo();
  }

  // The people's outlines over the result (with the people tool): on for a new photo, off once
  // a person is chosen so that the edge being judged shows, and the box turns them back on.
  function setOutlines(on) {
    showOutlines.checked = on;
    stage.dataset.outlines = on ? "on" : "off";
  }

  function setPhoto(file) {
    if (!file) return;
    photo = file;
    photoSerial += 1;
    size = null;
    resetEdits();
    photoName.textContent = file.name;
    if (originalUrl) URL.revokeObjectURL(originalUrl);
    originalUrl = URL.createObjectURL(file);
    original.hidden = false;
    views.dataset.loaded = "pending";
    original.src = originalUrl;
    dropPreview.src = originalUrl;
    dropPreview.hidden = false;
    app.dataset.photo = "chosen";
    views.hidden = false;
    hideResult();
    schedule();
    fetchPeople();
  }

  // A photo the browser cannot show (HEIC in most browsers) as the service reads it, upright;
  // false when the service cannot read it either.
  async function showPreview() {
    const serial = photoSerial;
    if (!photo || original.dataset.preview === String(serial)) return false;
    original.dataset.preview = String(serial);
    const body = new FormData();
    body.append("image", photo, photo.name);
    try {
      const response = await fetch("preview", { method: "POST", body, headers: keyHeaders() });
      if (!response.ok || serial !== photoSerial) return false;
      if (originalUrl) URL.revokeObjectURL(originalUrl);
      originalUrl = URL.createObjectURL(await response.blob());
      original.src = originalUrl;
      dropPreview.src = originalUrl;
      return true;
    } catch {
      return false;
    }
  }

  function onOriginalLoaded() {
    size = { width: original.naturalWidth, height: original.naturalHeight };
    layers.style.width = `${size.width}px`;
    layers.style.height = `${size.height}px`;
    views.dataset.loaded = "yes";
    fit();
  }

  // ---- the named backgrounds -----------------------------------------------------------------

  async function loadBackgrounds() {
    try {
      const response = await fetch("backgrounds");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const { backgrounds } = await response.json();
      backgrounds.forEach(({ name }, index) => {
        const id = `bg-named-${name}`;
        const thumb = document.createElement("div");
        thumb.className = "thumb";
        const radio = document.createElement("input");
        Object.assign(radio, { type: "radio", name: "background", value: name, id });
        radio.dataset.named = "true";
        const label = document.createElement("label");
        label.htmlFor = id;
        const image = document.createElement("img");
        Object.assign(image, { src: `backgrounds/${encodeURIComponent(name)}.jpg`, alt: "",
          width: 160, height: 90 });
        const caption = document.createElement("span");
        caption.textContent = name;
        label.append(image, caption);
        thumb.append(radio, label);
        namedBackgrounds.append(thumb);
        if (index === 0 && !form.querySelector('input[name="background"]:checked')) {
          radio.checked = true;
        }
      });
    } catch (error) {
      namedBackgrounds.textContent = "The named backgrounds could not be loaded; " +
        "the other choices still work.";
      if (!form.querySelector('input[name="background"]:checked')) $("bg-colour").checked = true;
    }
  }

  // ---- events --------------------------------------------------------------------------------

  photoInput.addEventListener("change", () => setPhoto(photoInput.files[0]));
  original.addEventListener("load", onOriginalLoaded);
  original.addEventListener("error", async () => {
    if (await showPreview()) return;
    original.hidden = true;
    dropPreview.hidden = true;
    views.dataset.loaded = "failed";
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("dragging");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    setPhoto(event.dataTransfer.files[0]);
  });
  // A photo dropped beside the zone must not make the browser leave the page.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => event.preventDefault());
  }

  form.addEventListener("change", (event) => {
    if (event.target === photoInput) return;
    if (event.target === colour) $("bg-colour").checked = true;
    if (event.target === backgroundFile) $("bg-upload").checked = true;
    schedule();
  });
  colour.addEventListener("input", () => { $("bg-colour").checked = true; syncChoices(); });
  tools.addEventListener("change", (event) => {
    if (event.target.name !== "tool") return;
    stage.dataset.tool = currentTool();
    toolHint.textContent = TOOL_HINTS[currentTool()];
  });
  brushSize.addEventListener("input", () => {
    $("brush-size-value").textContent = `${brushSize.value} px`;
  });
  undoButton.addEventListener("click", undo);
  redoButton.addEventListener("click", redo);
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.target.matches("input[type=text], " +
      "input[type=password]")) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) undo();
    else if (key === "y" || (key === "z" && event.shiftKey)) redo();
    else return;
    event.preventDefault();
  });
  stage.addEventListener("pointerdown", onPointerDown);
  stage.addEventListener("pointermove", onPointerMove);
  stage.addEventListener("pointerup", onPointerUp);
  stage.addEventListener("pointercancel", onPointerUp);
  stage.addEventListener("wheel", (event) => {
    if (!size) return;
    event.preventDefault();
    const box = stage.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  $("zoom-in").addEventListener("click", () => zoomAt(1.5));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / 1.5));
  $("zoom-fit").addEventListener("click", fit);
  $("zoom-actual").addEventListener("click", () => zoomAt(1 / view.scale));
  compare.addEventListener("input", showCompare);
  showOutlines.addEventListener("change", () => setOutlines(showOutlines.checked));
  new ResizeObserver(() => { if (fitted) fit(); }).observe(stage);
  // How far the editor may scroll away before it sticks (a phone's layout uses it).
  new ResizeObserver(() => {
    const stick = stage.getBoundingClientRect().top - views.getBoundingClientRect().top;
    views.style.setProperty("--stick", `${Math.max(0, stick)}px`);
  }).observe(views);
  $("use-key").addEventListener("click", () => {
    const key = $("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    $("api-key").value = "";
    if (photo && !people) fetchPeople();
    run();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });

  setState("empty");
  syncChoices();
  syncUndo();
  loadBackgrounds();
  loadEffectRanges();
})();
