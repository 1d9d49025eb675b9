// gspmc studio page: plain JS, no library, every request to this server only.
"use strict";
const $ = (id) => document.getElementById(id);
const studio = { stream: null, recording: null, live: null, pollTimer: null, clips: [] };
const LIVE_BATCH = 8;  // frames per live request (JPEG, ~0.1-0.5 MB each): far below any upload limit
window.studio = studio;

function setStatus(id, text, isError) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

async function api(method, url, body) {
  const opts = { method };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers = { "content-type": "application/json" }; }
  const res = await fetch(url, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = { error: `HTTP ${res.status}` }; }
  if (!res.ok) {
    const msg = data && (data.error || (data.detail && JSON.stringify(data.detail))) || `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return data;
}

// --- pages -----------------------------------------------------------------------------------
function show(page) {
  document.querySelectorAll(".page").forEach((s) => { s.hidden = s.id !== `page-${page}`; });
  document.querySelectorAll("nav .tab").forEach((b) => b.classList.toggle("active", b.dataset.page === page));
  if (location.hash !== `#${page}`) history.replaceState(null, "", `#${page}`);
  if (page === "dataset" || page === "enroll" || page === "train") refreshClips();
  if (page === "train") refreshRuns();
  if (page === "evaluate") refreshRuns();
  if (page === "enroll" || page === "recognize") refreshModels();
}
document.querySelectorAll("nav .tab").forEach((b) => b.addEventListener("click", () => show(b.dataset.page)));

// --- camera and frame capture ----------------------------------------------------------------
async function camera(videoEl) {
  if (!studio.stream) studio.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  if (videoEl.srcObject !== studio.stream) videoEl.srcObject = studio.stream;
  await videoEl.play();
  if (!videoEl.videoWidth) await new Promise((r) => videoEl.addEventListener("loadedmetadata", r, { once: true }));
  return videoEl;
}

// Calls onFrame(blob) for each new video frame until it returns false: a clip is a number of frames.
function captureFrames(videoEl, onFrame) {
  const canvas = document.createElement("canvas");
  canvas.width = videoEl.videoWidth; canvas.height = videoEl.videoHeight;
  const ctx = canvas.getContext("2d");
  return new Promise((resolve) => {
    let stopped = false;
    const next = () => (videoEl.requestVideoFrameCallback ? videoEl.requestVideoFrameCallback(grab) : requestAnimationFrame(grab));
    const grab = () => {
      if (stopped) return;
      ctx.drawImage(videoEl, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => {
        if (stopped) return;
        if (onFrame(blob, canvas) === false) { stopped = true; resolve(); }
      }, "image/jpeg", 0.92);
      next();
    };
    next();
  });
}

// --- record ----------------------------------------------------------------------------------
$("cam-start").addEventListener("click", async () => {
  try { await camera($("camera")); setStatus("record-status", "camera on"); }
  catch (e) { setStatus("record-status", `camera: ${e.message}`, true); }
});

$("rec-start").addEventListener("click", async () => {
  const n = parseInt($("rec-frames").value, 10);
  let secs = parseInt($("rec-countdown").value, 10) || 0;
  try { await camera($("camera")); } catch (e) { setStatus("record-status", `camera: ${e.message}`, true); return; }
  $("rec-start").disabled = true; $("rec-save").disabled = true; $("rec-retake").disabled = true;
  while (secs > 0) {
    $("countdown").textContent = String(secs);
    await new Promise((r) => setTimeout(r, 1000));
    secs -= 1;
  }
  $("countdown").textContent = "";
  setStatus("record-status", "recording...");
  const blobs = [];
  await captureFrames($("camera"), (blob) => { blobs.push(blob); setStatus("record-status", `recording ${blobs.length}/${n}`); return blobs.length < n; });
  studio.recording = blobs;
  setStatus("record-status", `recorded ${blobs.length} frames: save or retake`);
  $("rec-save").disabled = false; $("rec-retake").disabled = false; $("rec-start").disabled = false;
  playPreview(blobs);
});

async function playPreview(blobs) {
  const canvas = $("preview"); canvas.hidden = false;
  const ctx = canvas.getContext("2d");
  const images = await Promise.all(blobs.map((b) => createImageBitmap(b)));
  ctx.drawImage(images[0], 0, 0, canvas.width, canvas.height);
  let i = 1;
  clearInterval(studio.previewTimer);
  studio.previewTimer = setInterval(() => {
    if (studio.recording !== blobs) { clearInterval(studio.previewTimer); canvas.hidden = true; return; }
    ctx.drawImage(images[i % images.length], 0, 0, canvas.width, canvas.height); i += 1;
  }, 33);
}

$("rec-retake").addEventListener("click", () => {
  studio.recording = null; $("rec-save").disabled = true; $("rec-retake").disabled = true;
  setStatus("record-status", "discarded: record again");
});

$("rec-save").addEventListener("click", async () => {
  const blobs = studio.recording;
  if (!blobs) return;
  const fd = new FormData();
  fd.append("session", $("rec-session").value); fd.append("gloss", $("rec-gloss").value); fd.append("fps", "30");
  blobs.forEach((b, i) => fd.append("frames", b, `frame${String(i).padStart(4, "0")}.jpg`));
  $("rec-save").disabled = true; $("rec-retake").disabled = true;
  setStatus("record-status", "saving (extracting keypoints)...");
  try {
    const clip = await api("POST", "/api/clips/frames", fd);
    studio.recording = null;
    setStatus("record-status", `saved ${clip.session}/${clip.gloss}/${clip.clip} (${clip.frames} frames)`);
  } catch (e) {
    $("rec-save").disabled = false; $("rec-retake").disabled = false;
    setStatus("record-status", e.message, true);
  }
});

$("upload-btn").addEventListener("click", async () => {
  const file = $("upload-file").files[0];
  if (!file) { setStatus("record-status", "choose a video file first", true); return; }
  const fd = new FormData();
  fd.append("session", $("rec-session").value); fd.append("gloss", $("rec-gloss").value); fd.append("file", file);
  setStatus("record-status", "uploading (extracting keypoints)...");
  try {
    const clip = await api("POST", "/api/clips/video", fd);
    setStatus("record-status", `saved ${clip.session}/${clip.gloss}/${clip.clip} (${clip.frames} frames)`);
  } catch (e) { setStatus("record-status", e.message, true); }
});

// --- dataset ---------------------------------------------------------------------------------
async function refreshClips() {
  let data;
  try { data = await api("GET", "/api/clips"); } catch (e) { setStatus("dataset-status", e.message, true); return; }
  studio.clips = data.clips;
  $("dataset-summary").textContent = `${data.clips.length} clips, ${Object.keys(data.glosses).length} glosses, sessions: ${data.sessions.join(", ")}`;
  const gt = $("gloss-table").tBodies[0]; gt.innerHTML = "";
  for (const [gloss, per] of Object.entries(data.glosses)) {
    const tr = gt.insertRow();
    tr.insertCell().textContent = gloss;
    tr.insertCell().textContent = Object.entries(per).map(([s, n]) => `${s}: ${n}`).join(", ");
    tr.insertCell().textContent = String(Object.values(per).reduce((a, b) => a + b, 0));
  }
  const ct = $("clip-table").tBodies[0]; ct.innerHTML = "";
  for (const c of data.clips) {
    const tr = ct.insertRow();
    tr.dataset.clip = `${c.session}/${c.gloss}/${c.clip}`;
    [c.gloss, c.session, c.clip, String(c.frames)].forEach((t) => { tr.insertCell().textContent = t; });
    const td = tr.insertCell();
    const play = document.createElement("button"); play.textContent = "play"; play.className = "play";
    play.onclick = () => playSkeleton(c);
    const del = document.createElement("button"); del.textContent = "delete"; del.className = "delete";
    del.onclick = async () => {
      try { await api("DELETE", `/api/clips/${encodeURIComponent(c.session)}/${encodeURIComponent(c.gloss)}/${encodeURIComponent(c.clip)}`); refreshClips(); }
      catch (e) { setStatus("dataset-status", e.message, true); }
    };
    td.append(play, del);
  }
  const fold = $("train-fold"); const old = fold.value; fold.innerHTML = "";
  data.sessions.forEach((s) => fold.add(new Option(s, s)));
  if (data.sessions.includes(old)) fold.value = old;
  const box = $("enroll-clips"); box.innerHTML = "";
  for (const c of data.clips) {
    const id = `${c.session}/${c.gloss}/${c.clip}`;
    const label = document.createElement("label");
    const cb = document.createElement("input"); cb.type = "checkbox"; cb.value = id; cb.dataset.gloss = c.gloss;
    label.append(cb, ` ${id}`); box.append(label);
  }
}

async function playSkeleton(c) {
  let sk;
  try { sk = await api("GET", `/api/clips/${encodeURIComponent(c.session)}/${encodeURIComponent(c.gloss)}/${encodeURIComponent(c.clip)}/skeleton`); }
  catch (e) { setStatus("dataset-status", e.message, true); return; }
  const canvas = $("skeleton"); const ctx = canvas.getContext("2d");
  const colours = { pose: "#4af", left_hand: "#f84", right_hand: "#8f4" };
  let t = 0; studio.skeletonFrames = 0;
  clearInterval(studio.skeletonTimer);
  setStatus("dataset-status", `playing ${c.session}/${c.gloss}/${c.clip} (${sk.frames.length} frames)`);
  studio.skeletonTimer = setInterval(() => {
    const f = sk.frames[t % sk.frames.length];
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (const [part, [a, b]] of Object.entries(sk.parts)) {
      ctx.fillStyle = colours[part];
      for (let j = a; j < b; j++) {
        if (!f[j]) continue;
        ctx.beginPath(); ctx.arc(f[j][0] * canvas.width, f[j][1] * canvas.height, 3, 0, 2 * Math.PI); ctx.fill();
      }
    }
    t += 1; studio.skeletonFrames = t;
  }, 1000 / (sk.fps || 30));
}

// --- training --------------------------------------------------------------------------------
$("train-start").addEventListener("click", async () => {
  try {
    const st = await api("POST", "/api/runs", { name: $("train-name").value, fold: $("train-fold").value,
      epochs: parseInt($("train-epochs").value, 10), settings: $("train-settings").value });
    setStatus("train-status", `started ${st.name}`);
    refreshRuns();
  } catch (e) { setStatus("train-status", e.message, true); }
});

function drawCurve(metrics) {
  const canvas = $("curve"); const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!metrics.length) return;
  const n = Math.max(metrics.length, 2); const maxLoss = Math.max(...metrics.map((m) => m.loss || 0), 1e-6);
  const x = (i) => 30 + (i / (n - 1)) * (canvas.width - 40);
  const line = (key, scale, colour) => {
    ctx.strokeStyle = colour; ctx.beginPath(); let first = true;
    metrics.forEach((m, i) => { if (m[key] === undefined) return; const y = canvas.height - 20 - (m[key] / scale) * (canvas.height - 40);
      if (first) { ctx.moveTo(x(i), y); first = false; } else ctx.lineTo(x(i), y); ctx.fillStyle = colour; ctx.fillRect(x(i) - 2, y - 2, 4, 4); });
    ctx.stroke();
  };
  ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(30, 20); ctx.lineTo(30, canvas.height - 20); ctx.lineTo(canvas.width - 10, canvas.height - 20); ctx.stroke();
  line("loss", maxLoss, "#c33"); line("val_top1", 1, "#36c");
  ctx.fillStyle = "#c33"; ctx.fillText(`train loss (max ${maxLoss.toFixed(3)})`, 35, 12);
  ctx.fillStyle = "#36c"; ctx.fillText("val top-1 (0-100%)", 200, 12);
  ctx.fillStyle = "#333"; ctx.fillText(`epoch 0 .. ${metrics[metrics.length - 1].epoch}`, canvas.width - 110, canvas.height - 5);
}

async function refreshRuns() {
  let data;
  try { data = await api("GET", "/api/runs"); } catch (e) { setStatus("train-status", e.message, true); return; }
  const tb = $("run-table").tBodies[0]; tb.innerHTML = "";
  let active = false;
  for (const r of data.runs) {
    const tr = tb.insertRow(); tr.dataset.run = r.name; tr.dataset.status = r.status;
    const last = r.metrics.length ? r.metrics[r.metrics.length - 1] : {};
    const lossRow = [...r.metrics].reverse().find((m) => m.loss !== undefined) || {};
    [r.name, r.fold, r.status, `${r.epochs_done}/${r.epochs}`, lossRow.loss !== undefined ? lossRow.loss.toFixed(3) : "",
      last.val_top1 !== undefined ? `${(100 * last.val_top1).toFixed(1)}%` : ""].forEach((t) => { tr.insertCell().textContent = t; });
    tr.cells[2].className = "run-status";
    const td = tr.insertCell();
    if (r.status === "running") {
      const b = document.createElement("button"); b.textContent = "stop"; b.className = "stop";
      b.onclick = async () => { try { await api("POST", `/api/runs/${encodeURIComponent(r.name)}/stop`); refreshRuns(); } catch (e) { setStatus("train-status", e.message, true); } };
      td.append(b);
    }
    if (r.resumable) {
      const b = document.createElement("button"); b.textContent = "resume"; b.className = "resume";
      b.onclick = async () => { try { await api("POST", `/api/runs/${encodeURIComponent(r.name)}/resume`); refreshRuns(); } catch (e) { setStatus("train-status", e.message, true); } };
      td.append(b);
    }
    if (r.status === "running" || r.status === "stopping") active = true;
    tr.onclick = () => { studio.selectedRun = r.name; refreshRuns(); };
  }
  // the curve and log of the selected run (click a row), else the running one, else the newest
  const chosen = data.runs.find((r) => r.name === studio.selectedRun) || data.runs.find((r) => r.status === "running")
    || data.runs[data.runs.length - 1];
  if (chosen) {
    drawCurve(chosen.metrics); $("train-log").textContent = `${chosen.name}:\n${chosen.log_tail}`;
    [...tb.rows].forEach((row) => row.classList.toggle("selected", row.dataset.run === chosen.name));
  }
  const sel = $("eval-run"); const old = sel.value; sel.innerHTML = "";
  data.runs.filter((r) => r.status === "done").forEach((r) => sel.add(new Option(r.name, r.name)));
  if (old) sel.value = old;
  clearTimeout(studio.pollTimer);
  if (active) studio.pollTimer = setTimeout(refreshRuns, 1000);
}

// --- evaluation ------------------------------------------------------------------------------
$("eval-show").addEventListener("click", async () => {
  const name = $("eval-run").value;
  if (!name) { setStatus("eval-status", "no complete run yet", true); return; }
  let ev;
  try { ev = await api("GET", `/api/runs/${encodeURIComponent(name)}/evaluation`); } catch (e) { setStatus("eval-status", e.message, true); return; }
  $("eval-top1").textContent = `top-1 on test session ${ev.fold}: ${(100 * ev.top1).toFixed(1)}% (${ev.counts ? ev.counts.clips : "?"} clips, best epoch ${ev.epoch})`;
  const pc = $("per-class").tBodies[0]; pc.innerHTML = "";
  for (const [c, v] of Object.entries(ev.per_class)) {
    const tr = pc.insertRow();
    [c, String(v.n), v.accuracy === null || v.accuracy === undefined ? "" : `${(100 * v.accuracy).toFixed(1)}%`].forEach((t) => { tr.insertCell().textContent = t; });
  }
  const table = $("confusion"); table.innerHTML = "";
  const head = table.createTHead().insertRow(); head.insertCell().textContent = "true \\ predicted";
  ev.classes.forEach((c) => { head.insertCell().textContent = c; });
  const body = table.createTBody();
  ev.confusion.forEach((row, i) => {
    const tr = body.insertRow(); tr.insertCell().textContent = ev.classes[i];
    row.forEach((v, j) => { const td = tr.insertCell(); td.textContent = String(v); td.className = i === j ? "cell diag" : "cell"; });
  });
  setStatus("eval-status", `run ${ev.name}`);
});

// --- models, enrolment -----------------------------------------------------------------------
async function refreshModels() {
  let data;
  try { data = await api("GET", "/api/models"); } catch (e) { setStatus("live-status", e.message, true); return; }
  for (const [id, onlyGsp] of [["enroll-model", true], ["live-model", false]]) {
    const sel = $(id); const old = sel.value; sel.innerHTML = "";
    data.models.filter((m) => !onlyGsp || m.gspmc).forEach((m) => sel.add(new Option(`${m.ref} (${m.classes.length} classes)`, m.ref)));
    if ([...sel.options].some((o) => o.value === old)) sel.value = old;
  }
}

$("enroll-btn").addEventListener("click", async () => {
  const clips = [...document.querySelectorAll("#enroll-clips input:checked")].map((cb) => cb.value);
  setStatus("enroll-status", "enrolling...");
  try {
    const r = await api("POST", "/api/enroll", { model: $("enroll-model").value, gloss: $("enroll-gloss").value,
      out: $("enroll-out").value, clips, description: $("enroll-description").value, units: $("enroll-units").value });
    setStatus("enroll-status", `enrolled: ${r.model} now has ${r.classes.length} classes (${r.message})`);
    refreshModels();
  } catch (e) { setStatus("enroll-status", e.message, true); }
});

// --- live recognition ------------------------------------------------------------------------
$("live-start").addEventListener("click", async () => {
  let video;
  try { video = await camera($("live-camera")); } catch (e) { setStatus("live-status", `camera: ${e.message}`, true); return; }
  let sess;
  try {
    sess = await api("POST", "/api/live", { model: $("live-model").value, units: $("live-units").value,
      frames: parseInt($("live-frames").value, 10), k: 5 });
  } catch (e) { setStatus("live-status", e.message, true); return; }
  const live = { id: sess.session, sent: 0, pending: [], busy: false, stop: false };
  studio.live = live;
  $("live-start").disabled = true; $("live-stop").disabled = false;
  setStatus("live-status", "recognising");
  const flush = async () => {
    if (live.busy || !live.pending.length) return;
    live.busy = true;
    // at most LIVE_BATCH frames a request: a busy server lets frames pile up, and one request carrying all of
    // them could pass the upload limit (seen under load: 'upload too large' mid-recognition)
    const batch = live.pending.splice(0, LIVE_BATCH);
    const fd = new FormData();
    batch.forEach((b, i) => fd.append("frames", b, `f${i}.jpg`));
    try {
      const r = await api("POST", `/api/live/${live.id}/frames`, fd);
      live.sent = r.frames; $("live-count").textContent = String(r.frames);
      const ol = $("live-top"); ol.innerHTML = "";
      r.top.forEach((t) => { const li = document.createElement("li"); li.textContent = `${t.gloss} ${(100 * t.prob).toFixed(1)}%`; li.dataset.gloss = t.gloss; ol.append(li); });
      $("live-transcript").textContent = r.transcript.map((s) => s.gloss).join(" ");
    } catch (e) { setStatus("live-status", e.message, true); live.stop = true; }
    live.busy = false;
    if (!live.stop) flush();
  };
  await captureFrames(video, (blob) => { if (live.stop) return false; live.pending.push(blob); if (live.pending.length > 300) live.pending.shift(); flush(); return true; });
});

$("live-stop").addEventListener("click", async () => {
  if (studio.live) { studio.live.stop = true; try { await api("DELETE", `/api/live/${studio.live.id}`); } catch (e) { /* closed */ } }
  $("live-start").disabled = false; $("live-stop").disabled = true; setStatus("live-status", "stopped");
});

// --- start -----------------------------------------------------------------------------------
api("GET", "/api/info").then((i) => { $("folder").textContent = `${i.folder} (uploads up to ${i.max_upload_mb} MB)`; }).catch(() => {});
show((location.hash || "#record").slice(1) || "record");
