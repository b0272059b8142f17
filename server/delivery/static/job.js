/* Shared by the MCP Apps player and the gallery: one job as a card. Everything a job says is shown with
   textContent: prompts and provider messages are untrusted. */
"use strict";
const vg = (() => {
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  // The same phase floors the server's progress notifications use (server/present.py PHASE_FLOOR).
  const FLOOR = { pending: 0, queued: 2, running: 5, downloading: 95 };

  function el(tag, cls, parent) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  function card(parent) {
    const root = el("article", "vg-card", parent);
    const head = el("div", "vg-head", root);
    const parts = { root, status: el("span", "vg-status", head), model: el("span", "vg-model", head) };
    parts.cost = el("span", "vg-cost", head);
    parts.fill = el("div", "vg-fill", el("div", "vg-bar", root));
    parts.message = el("div", "vg-message", root);
    parts.prompt = el("p", "vg-prompt", root);
    parts.error = el("p", "vg-error", root);
    parts.video = el("video", "vg-video", root);
    parts.video.controls = true;
    parts.video.playsInline = true;
    parts.video.preload = "metadata";
    parts.video.hidden = true;
    parts.error.hidden = true;
    return parts;
  }

  function percent(job) {
    if (FINAL.has(job.status)) return 100;
    const floor = FLOOR[job.status] || 0;
    if (job.status === "running" && typeof job.progress === "number") {
      return floor + 90 * Math.max(0, Math.min(1, job.progress));
    }
    return floor;
  }

  function cost(job) {
    if (typeof job.cost !== "number") return "";
    const usd = "$" + job.cost.toFixed(2);
    return job.cost_is_estimate ? usd + " estimated" : usd + " charged";
  }

  function render(parts, job) {
    const pct = percent(job);
    parts.root.dataset.status = job.status || "";
    parts.root.dataset.jobId = job.job_id || "";
    parts.status.textContent = (job.status || "waiting").replace("_", " ");
    parts.status.dataset.status = job.status || "";
    parts.model.textContent = job.provider && job.model ? job.provider + "/" + job.model : job.model || "";
    parts.cost.textContent = cost(job);
    parts.fill.style.width = pct.toFixed(1) + "%";
    parts.fill.parentNode.dataset.percent = pct.toFixed(1);
    parts.message.textContent = FINAL.has(job.status) ? "" : job.message || "";
    const prompt = job.request && job.request.prompt;
    if (prompt !== undefined) parts.prompt.textContent = prompt;
    const error = job.error ? (job.error.code ? job.error.code + ": " : "") + (job.error.message || "") : "";
    parts.error.textContent = error;
    parts.error.hidden = !error;
    const thumb = job.video && job.video.thumbnail_url;
    if (thumb && !parts.video.poster) parts.video.poster = thumb;
  }

  /* Resolves once the video can show a frame; rejects if this source cannot play (blocked, not found). */
  function load(video, src, seconds) {
    return new Promise((resolve, reject) => {
      const done = (ok, why) => {
        clearTimeout(timer);
        video.removeEventListener("loadeddata", onData);
        video.removeEventListener("error", onError);
        ok ? resolve() : reject(new Error(why));
      };
      const onData = () => done(true);
      const onError = () => done(false, "the video did not load");
      const timer = setTimeout(() => done(false, "the video took too long to load"), (seconds || 20) * 1000);
      video.addEventListener("loadeddata", onData);
      video.addEventListener("error", onError);
      video.hidden = false;
      video.src = src;
    });
  }

  return { FINAL, card, percent, cost, render, load, el };
})();
