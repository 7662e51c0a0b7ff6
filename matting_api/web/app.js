// The page of the matting service: choose a photo and a background, POST /matte, show the result.
// Plain JavaScript, no libraries; everything it calls is on the same service (relative URLs).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("form");
  const photoInput = $("photo");
  const drop = $("drop");
  const photoName = $("photo-name");
  const namedBackgrounds = $("named-backgrounds");
  const backgroundChoices = $("background-choices");
  const colour = $("colour");
  const backgroundFile = $("background-file");
  const output = $("output");
  const format = $("format");
  const jpegOption = format.querySelector('option[value="jpeg"]');
  const progress = $("progress");
  const progressText = $("progress-text");
  const errorBox = $("error");
  const views = $("views");
  const original = $("original");
  const result = $("result");
  const resultCaption = $("result-caption");
  const done = $("done");
  const info = $("info");
  const download = $("download");

  // Plain words for the service's error codes; the service's own message is shown under them.
  const MESSAGES = {
    not_an_image: (what) => `That ${what} is not a picture this service can read. ` +
      "Choose a PNG, JPEG, WebP, GIF, BMP or TIFF file.",
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
  };

  let photo = null; // the chosen File
  let resultUrl = null;
  let originalUrl = null;
  let controller = null;
  let sequence = 0;
  let pending = 0;
  let ticker = 0;

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

  // JPEG has no alpha channel; the background means nothing unless the output is a composite.
  function syncChoices() {
    jpegOption.disabled = needsAlpha();
    if (jpegOption.disabled && format.value === "jpeg") format.value = "png";
    backgroundChoices.disabled = output.value !== "composite";
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
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = null;
  }

  function showError(text, detail = "", code = "") {
    $("error-text").textContent = text;
    $("error-detail").textContent = detail;
    $("error-detail").hidden = !detail || detail === text;
    $("key-entry").hidden = !code.startsWith("api_key_");
    errorBox.hidden = false;
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

  async function showResult(blob, seconds, choice) {
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    resultUrl = URL.createObjectURL(blob);
    result.src = resultUrl;
    await result.decode();
    result.hidden = false;
    result.dataset.background = choice.value;
    resultCaption.textContent = `Result: ${describe(choice)}`;
    const name = downloadName();
    info.textContent = `${result.naturalWidth} × ${result.naturalHeight} px · ` +
      `${format.value.toUpperCase()} · ${formatBytes(blob.size)} · ${seconds.toFixed(1)} s`;
    download.href = resultUrl;
    download.download = name;
    download.textContent = `Download ${name}`;
    done.hidden = false;
    views.hidden = false;
  }

  // ---- the request ---------------------------------------------------------------------------

  // Forget the request in flight, if any: only the latest choice matters.
  function cancel() {
    if (controller) controller.abort();
    sequence += 1;
    stopProgress();
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

    controller = new AbortController();
    const mine = sequence;
    hideError();
    setState("busy");
    const started = startProgress();
    try {
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
      await showResult(blob, (performance.now() - started) / 1000, choice);
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

  function setPhoto(file) {
    if (!file) return;
    photo = file;
    photoName.textContent = file.name;
    if (originalUrl) URL.revokeObjectURL(originalUrl);
    originalUrl = URL.createObjectURL(file);
    original.hidden = false;
    original.src = originalUrl;
    views.hidden = false;
    hideResult();
    schedule();
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
  original.addEventListener("error", () => { original.hidden = true; });
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
  $("use-key").addEventListener("click", () => {
    const key = $("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    $("api-key").value = "";
    run();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });

  setState("empty");
  syncChoices();
  loadBackgrounds();
})();
