/* craftgen studio: tool forms, uploads, live progress and results, over the v1 API.
 *
 * Plain JavaScript, no build step. Calls go to the same origin, so the browser sends the
 * session cookie; each one also sends the header the API asks of cookie-signed requests
 * (a page on another site cannot add it). The API's checks are the only validation: its
 * error message is shown next to the field it names.
 */
"use strict";

(() => {
  const studio = JSON.parse(document.getElementById("studio-data").textContent);
  const ID = /^[0-9a-f]{32}$/;

  // Helpers --------------------------------------------------------------------------------

  /** An element: `text` sets its text, every other attribute is set as given. */
  function el(tag, { text, ...attributes } = {}, ...children) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function sentence(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      let message = error.message || `The studio answered with an error (${status}).`;
      if (status === 401) message = "You are signed out. Reload the page to sign in again.";
      super(sentence(message));
      this.status = status;
      this.field = error.field || null;
    }
  }

  async function api(path, { method = "GET", json, form } = {}) {
    const headers = { [studio.csrfHeader]: "1" };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body, credentials: "same-origin" });
    } catch {
      throw new ApiError(0, { error: { message: "Could not reach the studio. Is it still running?" } });
    }
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  }

  // Errors, shown by the field they are about ---------------------------------------------------

  function findControl(form, field) {
    if (!field) return null;
    const named = form.querySelector(`[name="${CSS.escape(field)}"]:not([type="hidden"])`);
    return named || form.querySelector(`[data-for~="${CSS.escape(field)}"]`);
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid]").forEach((control) => {
      control.removeAttribute("aria-invalid");
      const described = (control.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter((id) => id && !id.endsWith("-error"));
      if (described.length) control.setAttribute("aria-describedby", described.join(" "));
      else control.removeAttribute("aria-describedby");
    });
    const formError = form.querySelector("[data-form-error]");
    if (formError) {
      formError.textContent = "";
      formError.hidden = true;
    }
  }

  function showError(form, error) {
    const control = findControl(form, error.field);
    if (!control) {
      const formError = form.querySelector("[data-form-error]");
      formError.textContent = error.message;
      formError.hidden = false;
      return;
    }
    const alert = el("p", { class: "field-error", role: "alert", id: `${control.id}-error`, text: error.message });
    control.setAttribute("aria-invalid", "true");
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    control.setAttribute("aria-describedby", [...described, alert.id].join(" "));
    (control.type === "checkbox" ? control.closest("label") : control).after(alert);
    const details = control.closest("details");
    if (details) details.open = true;
    control.focus({ preventScroll: true });
    control.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  // Results --------------------------------------------------------------------------------------

  // What each tool makes, as the server declares it (this file names no tool).
  const TOOLS = Object.fromEntries(studio.tools.map((tool) => [tool.name, tool]));
  const toolOf = (name) => TOOLS[name] || { name, title: name };

  /** Where a picture shows: on a checkerboard when the tool makes transparent images. */
  function resultView(tool, ...children) {
    return el("div", { class: `result-view${toolOf(tool).transparent ? " checker" : ""}` }, ...children);
  }

  /** A job's outputs, grouped per picture: the PNG, its SVG cut file and its 3x3 preview. */
  function groupOutputs(outputs) {
    const groups = new Map();
    for (const output of outputs) {
      const key = output.name.replace(/\.(png|svg)$/i, "").replace(/-preview$/, "");
      if (!groups.has(key)) groups.set(key, {});
      const group = groups.get(key);
      if (output.kind === "svg") group.svg = output;
      else if (output.kind === "preview") group.preview = output;
      else group.image = output;
    }
    return [...groups.values()].filter((group) => group.image);
  }

  /** Nine cells showing the tile as it repeats (the same arrangement as the server's preview). */
  function repeatView(image, repeat) {
    const view = el("div", { class: "repeat-view", role: "img", "aria-label": `The tile repeated 3 by 3 (${repeat})` });
    const cells = [];
    for (let row = 0; row < 3; row++) {
      for (let column = 0; column < 3; column++) {
        const cell = el("span");
        cell.style.backgroundImage = `url("${image.url}")`;
        cells.push({ cell, row, column });
        view.append(cell);
      }
    }
    // The view's height follows from its width alone, so laying out the cells never resizes the
    // element being observed (which would make the ResizeObserver loop).
    view.style.aspectRatio = `${image.width} / ${image.height}`;
    // Whole pixels per cell, so the browser draws no hairline between tiles that is not in the image.
    const layout = () => {
      const width = Math.floor(view.clientWidth / 3);
      if (!width) return;
      const height = Math.round((width * image.height) / image.width);
      for (const { cell, row, column } of cells) {
        cell.style.width = `${width}px`;
        cell.style.height = `${height}px`;
        cell.style.backgroundSize = `${width}px ${height}px`;
        const x = repeat === "brick" ? row * Math.round(width / 2) : 0;
        const y = repeat === "half-drop" ? column * Math.round(height / 2) : 0;
        cell.style.backgroundPosition = `${x}px ${y}px`;
        if (repeat === "mirror") cell.style.transform = `scale(${column % 2 ? -1 : 1}, ${row % 2 ? -1 : 1})`;
      }
    };
    new ResizeObserver(layout).observe(view);
    return view;
  }

  function sendControls(output) {
    const box = el("div", { class: "send" });
    const select = el("select");
    for (const tool of studio.tools.filter((t) => t.takesImage)) select.append(el("option", { value: tool.name, text: tool.title }));
    const id = `send-${output.image_id}`;
    select.id = id;
    const button = el("button", { type: "button", text: "Use as input" });
    button.addEventListener("click", async () => {
      box.querySelectorAll(".field-error").forEach((node) => node.remove());
      button.disabled = true;
      button.textContent = "Sending…";
      try {
        const picture = await fetch(output.url, { credentials: "same-origin" });
        if (!picture.ok) throw new ApiError(picture.status, null);
        const form = new FormData();
        form.append("file", await picture.blob(), output.name);
        const upload = await api("/v1/uploads", { method: "POST", form });
        const query = new URLSearchParams({ image: upload.id, from: output.image_id, w: upload.width, h: upload.height });
        window.location.assign(`/tools/${encodeURIComponent(select.value)}?${query}`);
      } catch (error) {
        box.append(el("p", { class: "field-error", role: "alert", text: error.message }));
        button.disabled = false;
        button.textContent = "Use as input";
      }
    });
    box.append(el("label", { for: id, text: "Send to" }), select, button);
    return box;
  }

  function resultCard(group, job, index, { details = false } = {}) {
    const { image, svg } = group;
    const prompt = (job.request && job.request.prompt) || "";
    const title = toolOf(job.tool).title;
    const figure = el("figure", { class: "result" });
    const picture = el("img", {
      src: image.url,
      alt: `${title} result ${index + 1}${prompt ? `: ${prompt}` : ""}`,
      width: image.width,
      height: image.height,
      loading: "lazy",
    });
    const single = resultView(job.tool, picture);
    figure.append(single);
    if (toolOf(job.tool).repeatPreview) {
      const repeat = repeatView(image, (job.request && job.request.repeat) || "grid");
      repeat.hidden = true;
      const id = `repeat-${image.image_id}`;
      const toggle = el("input", { type: "checkbox", id });
      toggle.addEventListener("change", () => {
        repeat.hidden = !toggle.checked;
        single.hidden = toggle.checked;
      });
      figure.append(repeat, el("label", { class: "check", for: id }, toggle, " Show 3×3 repeat"));
    }
    const facts = [`${image.width} × ${image.height} px`];
    if (job.request && job.request.model === "tiny") facts.push("tiny test model: noise");
    const caption = el("figcaption", {}, facts.join(" · "));
    if (details) {
      const when = new Date(job.created_at * 1000).toLocaleString();
      caption.prepend(el("strong", { text: title }), prompt ? ` “${prompt}”` : "", el("br"), when, el("br"));
    }
    figure.append(caption);
    const links = el(
      "div",
      { class: "downloads" },
      el("a", { class: "button", href: image.url, download: image.name, text: "Download PNG" }),
      svg ? el("a", { class: "button", href: svg.url, download: svg.name, text: "Download SVG" }) : null,
    );
    figure.append(links, sendControls(image));
    if (details) figure.append(publishControls(image, job));
    return figure;
  }

  // Publishing to the gallery (My images) ------------------------------------------------------

  function publishControls(image, job) {
    const box = el("div", { class: "publish" });
    const status = el("p", { class: "hint", "aria-live": "polite" });
    const fail = (error) => box.append(el("p", { class: "field-error", role: "alert", text: error.message }));
    const showPublished = () => {
      const undo = el("button", { type: "button", text: "Unpublish" });
      undo.addEventListener("click", async () => {
        undo.disabled = true;
        try {
          await api(`/v1/images/${image.image_id}/publish`, { method: "DELETE" });
          showPrivate();
        } catch (error) {
          undo.disabled = false;
          fail(error);
        }
      });
      status.textContent = "In the gallery.";
      box.replaceChildren(status, undo);
    };
    const showPrivate = () => {
      const id = `publish-${image.image_id}`;
      const details = el("details", { class: "publish-form" }, el("summary", { text: "Publish to the gallery" }));
      // Inputs without a type are text inputs.
      const title = el("input", { id: `${id}-title`, name: "title", maxlength: 120 });
      const tags = el("input", { id: `${id}-tags`, name: "tags", placeholder: "e.g. floral, spring" });
      const go = el("button", { type: "button", text: "Publish" });
      go.addEventListener("click", async () => {
        box.querySelectorAll(".field-error").forEach((node) => node.remove());
        go.disabled = true;
        const tagList = tags.value.split(",").map((tag) => tag.trim()).filter(Boolean);
        try {
          await api(`/v1/images/${image.image_id}/publish`, { method: "POST", json: { title: title.value.trim(), tags: tagList } });
          showPublished();
        } catch (error) {
          go.disabled = false;
          fail(error);
        }
      });
      details.append(
        el("label", { for: title.id, text: "Title (optional)" }), title,
        el("label", { for: tags.id, text: "Tags, separated by commas (optional)" }), tags,
        el("p", { class: "hint", text: "Anyone signed in here can then see it, its prompt and its settings." }),
        go,
      );
      status.textContent = "";
      box.replaceChildren(details);
    };
    if (job.tool && image.kind === "image") {
      api(`/v1/images/${image.image_id}`).then((info) => (info.public ? showPublished() : showPrivate())).catch(fail);
    }
    return box;
  }

  // Remix: a tool page opened from the gallery starts with that image's settings --------------

  async function prefillRemix(form) {
    const source = new URLSearchParams(window.location.search).get("remix");
    if (!source || !ID.test(source)) return;
    const formError = form.querySelector("[data-form-error]");
    try {
      const remix = await api(`/v1/images/${source}/remix`);
      for (const [name, value] of Object.entries(remix.job)) {
        const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
        if (!control || name === "tool" || value === null || typeof value === "object") continue;
        if (control.type === "checkbox") control.checked = Boolean(value);
        else control.value = String(value);
      }
      const more = form.querySelector("details.more");
      if (more) more.open = true; // the remixed settings are worth seeing
      const note = remix.needs_image
        ? "Remixing a gallery image: its prompt and settings are filled in. Add your own picture to start."
        : "Remixing a gallery image: its prompt and settings are filled in. Change anything, then make it.";
      form.prepend(el("p", { class: "notice", role: "status", text: note }));
    } catch (error) {
      formError.textContent = error.message;
      formError.hidden = false;
    }
  }

  // The gallery --------------------------------------------------------------------------------

  /** A published picture's caption, begun: its title and prompt, each on a line. */
  function itemCaption(item) {
    const caption = el("figcaption", {});
    if (item.title) caption.append(el("strong", { text: item.title }), el("br"));
    if (item.prompt) caption.append(`“${item.prompt}”`, el("br"));
    return caption;
  }

  function galleryCard(item) {
    const title = toolOf(item.tool).title;
    const figure = el("figure", { class: "result" });
    const picture = el("img", {
      src: item.thumb_url,
      alt: item.title || item.prompt || `${title} by ${item.author}`,
      width: item.width,
      height: item.height,
      loading: "lazy",
    });
    const full = el("a", { href: item.url, target: "_blank", rel: "noopener", "aria-label": `Full size: ${picture.alt}` }, picture);
    figure.append(resultView(item.tool, full));
    const caption = itemCaption(item);
    caption.append(`${title} by ${item.author}`);
    if (item.seed !== null && item.seed !== undefined) caption.append(` · seed ${item.seed}`);
    if (item.tags.length) caption.append(el("br"), item.tags.map((tag) => `#${tag}`).join(" "));
    caption.append(el("br"), el("span", { class: "hint", text: `Shared under ${item.licence}` }));
    figure.append(caption);

    let liked = Boolean(item.liked);
    let likes = item.likes;
    const like = el("button", { type: "button", "aria-pressed": "false" });
    const showLikes = () => {
      like.textContent = `${liked ? "♥ Liked" : "♡ Like"} · ${likes}`;
      like.setAttribute("aria-pressed", String(liked));
    };
    showLikes();
    like.addEventListener("click", async () => {
      like.disabled = true;
      try {
        const answer = await api(`/v1/images/${item.id}/like`, { method: liked ? "DELETE" : "PUT" });
        liked = answer.liked;
        likes = answer.likes;
        showLikes();
      } catch (error) {
        figure.append(el("p", { class: "field-error", role: "alert", text: error.message }));
      }
      like.disabled = false;
    });
    const remix = el("a", { class: "button", href: `/tools/${encodeURIComponent(item.tool)}?remix=${item.id}`, text: "Remix" });
    figure.append(el("div", { class: "downloads" }, like, remix), reportControls(item));
    return figure;
  }

  function reportControls(item) {
    const details = el("details", { class: "report" }, el("summary", { text: "Report" }));
    const id = `report-${item.id}`;
    const reason = el("input", { id, name: "reason", maxlength: 500 });
    const send = el("button", { type: "button", text: "Send report" });
    send.addEventListener("click", async () => {
      details.querySelectorAll(".field-error").forEach((node) => node.remove());
      send.disabled = true;
      try {
        const answer = await api(`/v1/images/${item.id}/report`, { method: "POST", json: { reason: reason.value.trim() } });
        details.replaceChildren(
          el("p", { role: "status", text: answer.hidden ? "Thanks. It is hidden until an admin looks." : "Thanks. An admin will look." }),
        );
      } catch (error) {
        send.disabled = false;
        details.append(el("p", { class: "field-error", role: "alert", text: error.message }));
      }
    });
    details.append(el("label", { for: id, text: "What is wrong with it?" }), reason, send);
    return details;
  }

  function setupGallery(root) {
    const form = document.getElementById("gallery-form");
    const status = document.getElementById("gallery-status");
    const failure = document.getElementById("gallery-error");
    const more = document.getElementById("gallery-more");
    let cursor = null;
    const query = () => {
      const params = new URLSearchParams();
      for (const name of ["q", "tool", "order"]) {
        const value = form.elements[name].value.trim();
        if (value) params.set(name, value);
      }
      return params;
    };
    const load = async ({ append }) => {
      failure.hidden = true;
      more.disabled = true;
      const params = query();
      if (append && cursor) params.set("cursor", cursor);
      try {
        const page = await api(`/v1/gallery?${params}`);
        const cards = page.items.map(galleryCard);
        if (append) root.append(...cards);
        else root.replaceChildren(...cards);
        cursor = page.next_cursor;
        more.hidden = !cursor;
        const shown = root.children.length;
        if (shown) status.textContent = shown === 1 ? "1 image." : `${shown} images${cursor ? " so far" : ""}.`;
        else status.textContent = params.get("q") ? "Nothing matches that search yet." : "Nothing published yet.";
      } catch (error) {
        status.textContent = "";
        failure.textContent = error.message;
        failure.hidden = false;
      }
      more.disabled = false;
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const params = query();
      window.history.replaceState(null, "", `/gallery${params.size ? `?${params}` : ""}`);
      cursor = null;
      load({ append: false });
    });
    more.addEventListener("click", () => load({ append: true }));
    load({ append: false });
  }

  // Moderation (admins) -------------------------------------------------------------------------

  function setupAdmin(root) {
    const status = document.getElementById("admin-status");
    const failure = document.getElementById("admin-error");
    const fail = (error) => {
      failure.textContent = error.message;
      failure.hidden = false;
    };
    const act = async (button, path) => {
      button.disabled = true;
      failure.hidden = true;
      try {
        await api(path, { method: "POST" });
        await load();
      } catch (error) {
        button.disabled = false;
        fail(error);
      }
    };
    const card = (report) => {
      const { item } = report;
      const figure = el("figure", { class: "result" });
      figure.append(
        el("div", { class: "result-view" }, el("img", { src: item.thumb_url, alt: item.title || item.prompt || "Reported image", width: item.width, height: item.height })),
      );
      const caption = itemCaption(item);
      caption.append(`by ${item.author} · ${report.reports} report${report.reports === 1 ? "" : "s"}`);
      caption.append(el("br"), report.hidden ? `Hidden now${report.hidden_reason ? ` (${report.hidden_reason})` : ""}` : "Visible in the gallery");
      figure.append(caption);
      if (report.reasons.length) figure.append(el("ul", { class: "reasons" }, ...report.reasons.map((reason) => el("li", { text: reason }))));
      const hide = el("button", { type: "button", text: report.hidden ? "Keep hidden" : "Hide" });
      hide.addEventListener("click", () => act(hide, `/v1/admin/images/${item.id}/hide`));
      const keep = el("button", { type: "button", text: report.hidden ? "Put back" : "Keep" });
      keep.addEventListener("click", () => act(keep, `/v1/admin/images/${item.id}/unhide`));
      const disable = el("button", { type: "button", text: `Disable ${item.author}` });
      disable.addEventListener("click", () => act(disable, `/v1/admin/users/${report.author_id}/disable`));
      figure.append(el("div", { class: "downloads" }, hide, keep, disable));
      return figure;
    };
    const load = async () => {
      try {
        const { images } = await api("/v1/admin/reports");
        root.replaceChildren(...images.map(card));
        status.textContent = images.length ? `${images.length} to review.` : "Nothing to review.";
      } catch (error) {
        status.textContent = "";
        fail(error);
      }
    };
    load();
  }

  // The account page -----------------------------------------------------------------------------

  function setupAccount(facts) {
    const failure = document.getElementById("account-error");
    const keys = document.querySelector("[data-keys]");
    const created = document.getElementById("key-created");
    const makeKey = document.getElementById("key-new");
    const fail = (error) => {
      failure.textContent = error.message;
      failure.hidden = false;
    };
    const fact = (term, value) => [el("dt", { text: term }), el("dd", { text: String(value) })];
    const showMe = (me) => {
      const plan = me.plan === "pro" ? "Pro" : "Free";
      facts.replaceChildren(
        ...fact("Name", me.name),
        ...fact("Plan", me.role === "admin" ? `${plan} (admin)` : plan),
        ...fact("Speed credits", me.plan === "pro" ? `${me.credits} of ${me.monthly_credits}, renewed ${me.credits_reset_at}` : "none on the free plan"),
        ...fact("This month", `${me.usage.jobs} jobs, ${me.usage.images} images`),
        ...fact("Running or queued now", me.active_jobs),
      );
    };
    const showKeys = (list) => {
      keys.replaceChildren(
        ...list.filter((key) => !key.revoked_at).map((key) => {
          const revoke = el("button", { type: "button", text: "Revoke" });
          revoke.addEventListener("click", async () => {
            revoke.disabled = true;
            try {
              await api(`/v1/keys/${encodeURIComponent(key.prefix)}`, { method: "DELETE" });
              refreshKeys();
            } catch (error) {
              revoke.disabled = false;
              fail(error);
            }
          });
          return el(
            "tr",
            {},
            el("td", {}, el("code", { text: `${key.prefix}…` })),
            el("td", { text: key.kind === "session" ? "web sign-in" : "API key" }),
            el("td", { text: new Date(key.created_at * 1000).toLocaleDateString() }),
            el("td", {}, revoke),
          );
        }),
      );
    };
    const refreshKeys = () => api("/v1/keys").then((answer) => showKeys(answer.keys)).catch(fail);
    makeKey.addEventListener("click", async () => {
      makeKey.disabled = true;
      try {
        const key = await api("/v1/keys", { method: "POST" });
        created.replaceChildren("Your new key (shown only now): ", el("code", { text: key.key }));
        created.hidden = false;
        refreshKeys();
      } catch (error) {
        fail(error);
      }
      makeKey.disabled = false;
    });
    api("/v1/me").then(showMe).catch(fail);
    refreshKeys();
  }

  // A tool page ----------------------------------------------------------------------------------

  function setupDropzone(form) {
    const zone = form.querySelector("[data-dropzone]");
    if (!zone) return () => null;
    const input = zone.querySelector('input[type="file"]');
    const hidden = zone.querySelector('input[name="image"]');
    const drop = zone.querySelector("[data-drop]");
    const preview = zone.querySelector("[data-preview]");
    const previewImage = zone.querySelector("[data-preview-img]");
    const caption = zone.querySelector("[data-preview-caption]");
    let pending = null;
    let objectUrl = null;

    // A mask painter (if the tool takes a mask) follows the picture: "image-ready" with its size.
    const tell = (name, detail) => zone.dispatchEvent(new CustomEvent(name, { detail }));

    const show = (src, width, height, note) => {
      previewImage.src = src;
      caption.textContent = width && height ? `${width} × ${height} px${note ? ` · ${note}` : ""}` : note || "";
      preview.hidden = false;
      tell(width && height ? "image-ready" : "image-cleared", { width, height });
    };

    const upload = (file) => {
      clearErrors(form);
      hidden.value = "";
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(file);
      show(objectUrl, 0, 0, "Uploading…");
      const body = new FormData();
      body.append("file", file, file.name || "image.png");
      pending = api("/v1/uploads", { method: "POST", form: body })
        .then((result) => {
          hidden.value = result.id;
          show(objectUrl, result.width, result.height, "ready");
          return result;
        })
        .catch((error) => {
          pending = null; // a later Generate goes to the API, which names what is missing
          preview.hidden = true;
          tell("image-cleared", {});
          showError(form, { field: error.field || "file", message: error.message });
          return null;
        });
      return pending;
    };

    input.addEventListener("change", () => {
      if (input.files && input.files[0]) upload(input.files[0]);
    });
    for (const name of ["dragenter", "dragover"]) {
      drop.addEventListener(name, (event) => {
        event.preventDefault();
        drop.classList.add("over");
      });
    }
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (file) upload(file);
    });

    // Sent here by "Use as input": the upload exists already; show the picture it came from.
    const params = new URLSearchParams(window.location.search);
    const given = params.get("image");
    if (given && ID.test(given)) {
      hidden.value = given;
      const from = params.get("from");
      const width = Number(params.get("w")) || 0;
      const height = Number(params.get("h")) || 0;
      if (from && ID.test(from)) show(`/v1/images/${from}/file`, width, height, "from your results");
      else show("", width, height, "uploaded");
    }
    return () => pending;
  }

  // The mask painter: brush strokes over the input picture, sent as a mask upload ----------------

  /** Painters for a tool that takes a mask (declared: `takesMask`), one per mask field the page
   * has. Each paints on a canvas laid over the input picture, with a brush size and undo, by
   * mouse, pen or finger (pointer events). Returns a function that, before a job is sent, uploads
   * each painting as a mask PNG the picture's size (white = repaint, black = keep) and fills in
   * its field; false when an upload failed (its error is showing). */
  function setupMaskPainters(form) {
    const zone = form.querySelector("[data-dropzone]");
    if (!toolOf(form.dataset.tool).takesMask || !zone) return async () => true;
    const painters = [...form.querySelectorAll("[data-mask-canvas]")].map((canvas) => maskPainter(form, zone, canvas));
    return async () => {
      for (const painter of painters) if (!(await painter())) return false;
      return true;
    };
  }

  function maskPainter(form, zone, canvas) {
    const field = canvas.dataset.maskCanvas;
    const tools = form.querySelector(`[data-mask-tools="${CSS.escape(field)}"]`);
    const hidden = form.querySelector(`input[type="hidden"][name="${CSS.escape(field)}"]`);
    const brush = tools.querySelector("[data-brush]");
    const undo = tools.querySelector("[data-undo]");
    const clear = tools.querySelector("[data-clear]");
    const paint = canvas.getContext("2d");
    let strokes = []; // { id, size, points: [[x, y], ...] }, in the picture's own pixels
    let current = null;
    let version = 0; // bumped on every change, so an upload is redone only when needed
    let sent = -1;

    const redraw = () => {
      paint.clearRect(0, 0, canvas.width, canvas.height);
      paint.strokeStyle = paint.fillStyle = "#e0457b";
      paint.lineCap = paint.lineJoin = "round";
      for (const { size, points } of strokes) {
        const [[x, y], ...rest] = points;
        paint.beginPath();
        if (!rest.length) {
          paint.arc(x, y, size / 2, 0, 2 * Math.PI);
          paint.fill();
          continue;
        }
        paint.lineWidth = size;
        paint.moveTo(x, y);
        for (const [px, py] of rest) paint.lineTo(px, py);
        paint.stroke();
      }
      undo.disabled = clear.disabled = strokes.length === 0;
    };
    const changed = () => {
      version += 1;
      hidden.value = "";
      redraw();
    };
    // Screen position -> picture pixel (the canvas is the picture's size, shown scaled).
    const at = (event) => {
      const box = canvas.getBoundingClientRect();
      return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
    };

    canvas.addEventListener("pointerdown", (event) => {
      if (event.button > 0 || current) return; // the main button, a pen or one finger
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      const scale = canvas.width / canvas.getBoundingClientRect().width; // the brush is sized on screen
      current = { id: event.pointerId, size: Number(brush.value) * scale, points: [at(event)] };
      strokes.push(current);
      changed();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!current || event.pointerId !== current.id) return;
      const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const move of moves.length ? moves : [event]) current.points.push(at(move));
      redraw();
    });
    const lift = (event) => {
      if (current && event.pointerId === current.id) current = null;
    };
    canvas.addEventListener("pointerup", lift);
    canvas.addEventListener("pointercancel", lift);
    undo.addEventListener("click", () => {
      strokes.pop();
      changed();
    });
    clear.addEventListener("click", () => {
      strokes = [];
      changed();
    });
    canvas.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && strokes.length) {
        event.preventDefault();
        undo.click();
      }
    });

    // A new picture: a clean canvas of its size. None: nothing to paint on.
    zone.addEventListener("image-ready", (event) => {
      canvas.width = event.detail.width;
      canvas.height = event.detail.height;
      strokes = [];
      changed();
      tools.hidden = false;
    });
    zone.addEventListener("image-cleared", () => {
      strokes = [];
      changed();
      tools.hidden = true;
    });

    const maskBlob = () =>
      new Promise((resolve) => {
        const mask = el("canvas", { width: canvas.width, height: canvas.height });
        const draw = mask.getContext("2d");
        draw.drawImage(canvas, 0, 0);
        draw.globalCompositeOperation = "source-in"; // painted pixels white ...
        draw.fillStyle = "#fff";
        draw.fillRect(0, 0, mask.width, mask.height);
        draw.globalCompositeOperation = "destination-over"; // ... on black
        draw.fillStyle = "#000";
        draw.fillRect(0, 0, mask.width, mask.height);
        mask.toBlob(resolve, "image/png");
      });

    return async () => {
      if (!strokes.length || (hidden.value && sent === version)) return true; // none: the API says what is missing
      const painted = version;
      const body = new FormData();
      body.append("file", await maskBlob(), `${field}.png`);
      try {
        const result = await api("/v1/uploads", { method: "POST", form: body });
        if (painted === version) {
          hidden.value = result.id;
          sent = painted;
        }
        return true;
      } catch (error) {
        showError(form, { field, message: error.message });
        return false;
      }
    };
  }

  function collect(form) {
    const body = { tool: form.dataset.tool };
    for (const control of form.elements) {
      if (!control.name || control.disabled) continue;
      if (control.type === "checkbox") body[control.name] = control.checked;
      else if (control.value === "") continue;
      else if (control.dataset.kind === "number") body[control.name] = Number(control.value);
      else body[control.name] = control.value;
    }
    return body;
  }

  // A preset select fills the fields it names (data-values: {field: value}); it sends nothing itself.
  function setupPresets(form) {
    form.querySelectorAll("[data-presets]").forEach((select) =>
      select.addEventListener("change", () => {
        const values = JSON.parse(select.selectedOptions[0].dataset.values || "{}");
        for (const [name, value] of Object.entries(values)) {
          const control = form.elements.namedItem(name);
          if (control) control.value = String(value);
        }
      }),
    );
  }

  function setupToolPage(form) {
    const uploadMasks = setupMaskPainters(form); // first: it follows the picture the drop-zone shows
    const pendingUpload = setupDropzone(form);
    const generate = form.querySelector("[data-generate]");
    const panel = document.querySelector("[data-progress-panel]");
    const bar = panel.querySelector("progress");
    const text = panel.querySelector("[data-progress-text]");
    const preview = panel.querySelector("[data-progress-preview]");
    const cancel = panel.querySelector("[data-cancel]");
    const resultsPanel = document.querySelector("[data-results-panel]");
    const results = resultsPanel.querySelector("[data-results]");
    const note = resultsPanel.querySelector("[data-results-note]");
    const empty = document.querySelector("[data-empty]");
    let current = null;

    form.querySelectorAll("[data-idea]").forEach((chip) =>
      chip.addEventListener("click", () => {
        const prompt = form.querySelector('[name="prompt"]');
        prompt.value = chip.dataset.idea;
        prompt.focus();
      }),
    );

    setupPresets(form);
    prefillRemix(form);

    // A progress event carries `preview` only when it changed (null once it is gone).
    const showPreview = (url) => {
      if (url) preview.src = url;
      else preview.removeAttribute("src");
      preview.hidden = !url;
    };

    const update = (state) => {
      if ("preview" in state) showPreview(state.status === "running" ? state.preview : null);
      bar.value = Math.round((state.progress || 0) * 100);
      bar.textContent = `${bar.value}%`;
      if (state.status === "queued") {
        text.textContent =
          state.queue_position === null || state.queue_position === undefined
            ? "Waiting in the queue…"
            : `Position in queue: ${state.queue_position + 1}`;
      } else if (state.status === "running") {
        text.textContent = `Making it… ${bar.value}%`;
      }
    };

    const finish = (job) => {
      current = null;
      showPreview(null); // the finished images replace it
      cancel.hidden = true;
      generate.disabled = false;
      if (job.status === "succeeded") {
        bar.value = 100;
        text.textContent = "Done.";
        results.replaceChildren(...groupOutputs(job.outputs).map((group, index) => resultCard(group, job, index)));
        note.textContent = (job.warnings || []).join(" ");
        note.hidden = !note.textContent;
        resultsPanel.hidden = false;
        resultsPanel.scrollIntoView({ block: "nearest", behavior: "smooth" });
      } else if (job.status === "canceled") {
        text.textContent = "Canceled.";
      } else {
        text.textContent = "It did not work this time.";
        const message = (job.error && job.error.message) || "the job failed";
        showError(form, { field: null, message: sentence(message) });
      }
    };

    const poll = async (jobId) => {
      while (current === jobId) {
        try {
          const job = await api(`/v1/jobs/${jobId}`);
          if (["succeeded", "failed", "canceled", "dead"].includes(job.status)) return finish(job);
          update(job);
        } catch (error) {
          if (error.status && error.status < 500) {
            current = null;
            generate.disabled = false;
            return showError(form, error);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };

    const follow = (job) => {
      current = job.id;
      empty.hidden = true;
      panel.hidden = false;
      cancel.hidden = false;
      cancel.disabled = false;
      update({ status: job.status, progress: 0, queue_position: job.queue_position, preview: null });
      const events = new EventSource(`/v1/jobs/${encodeURIComponent(job.id)}/events`);
      events.addEventListener("progress", (event) => update(JSON.parse(event.data)));
      events.addEventListener("status", (event) => {
        events.close();
        finish(JSON.parse(event.data));
      });
      events.onerror = () => {
        // The stream broke before the final event: carry on by asking now and then.
        events.close();
        poll(job.id);
      };
    };

    cancel.addEventListener("click", async () => {
      if (!current) return;
      cancel.disabled = true;
      try {
        await api(`/v1/jobs/${encodeURIComponent(current)}`, { method: "DELETE" });
      } catch {
        // Finished meanwhile: the event stream brings the result.
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (current) return;
      clearErrors(form);
      generate.disabled = true;
      try {
        const upload = pendingUpload();
        if ((upload && !(await upload)) || !(await uploadMasks())) {
          generate.disabled = false;
          return; // the upload's own error is already showing
        }
        const job = await api("/v1/jobs", { method: "POST", json: collect(form) });
        follow(job);
      } catch (error) {
        generate.disabled = false;
        showError(form, error);
      }
    });
  }

  // My images -------------------------------------------------------------------------------------

  async function setupMyImages(root) {
    const status = document.getElementById("images-status");
    const failure = document.getElementById("images-error");
    try {
      const { jobs } = await api("/v1/jobs?limit=100");
      const done = jobs.filter((job) => job.status === "succeeded");
      const cards = [];
      for (const job of done) {
        groupOutputs(job.outputs).forEach((group, index) => cards.push(resultCard(group, job, index, { details: true })));
      }
      root.replaceChildren(...cards);
      if (cards.length) {
        status.textContent = cards.length === 1 ? "1 image." : `${cards.length} images.`;
      } else {
        status.replaceChildren("Nothing here yet. ", el("a", { href: "/", text: "Make something" }), " and it will show up here.");
      }
    } catch (error) {
      status.textContent = "";
      failure.textContent = error.message;
      failure.hidden = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("tool-form");
    if (form) setupToolPage(form);
    const mine = document.querySelector("[data-my-images]");
    if (mine) setupMyImages(mine);
    const gallery = document.querySelector("[data-gallery]");
    if (gallery) setupGallery(gallery);
    const account = document.querySelector("[data-account]");
    if (account) setupAccount(account);
    const admin = document.querySelector("[data-admin]");
    if (admin) setupAdmin(admin);
  });
})();
