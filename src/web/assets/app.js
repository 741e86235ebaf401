// The dashboard's live parts: progress over server-sent events, the new-job dialog's
// steps, and its fetch submit with errors shown at their fields. Plain ES2020, no build.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// ---- Live progress: one EventSource for every job the page shows that has not ended.
const live = { source: null, last: new Map() };

function fmtEta(seconds) {
  if (!(seconds >= 0) || !isFinite(seconds)) return "";
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function follow() {
  if (live.source) live.source.close();
  live.source = null;
  const jobs = [...document.querySelectorAll("[data-job-id][data-sequence]")];
  if (jobs.length === 0) return;
  const list = jobs.map((el) => {
    const id = el.dataset.jobId;
    const seq = Math.max(Number(el.dataset.sequence) || 0, live.last.get(id) || 0);
    return `${id}:${seq}`;
  });
  const source = new EventSource(`/ui/jobs/live?jobs=${encodeURIComponent(list.join(","))}`);
  source.addEventListener("job", (message) => apply(JSON.parse(message.data)));
  live.source = source;
}

function apply(ev) {
  if ((live.last.get(ev.job_id) || 0) >= ev.sequence) return;
  live.last.set(ev.job_id, ev.sequence);
  for (const el of document.querySelectorAll(`[data-job-id="${ev.job_id}"]`)) {
    if (ev.state) {
      el.dataset.state = ev.state;
      const cell = el.querySelector("[data-state-cell]");
      if (cell) cell.innerHTML = `<span class="badge state-${ev.state.toLowerCase()}" data-state="${ev.state}">${ev.state}</span>`;
    }
    const bar = el.querySelector("[data-progress] progress");
    const percent = ev.state === "SUCCEEDED" ? 100 : ev.percent;
    if (bar && percent != null) {
      bar.value = percent;
      el.querySelector("[data-percent]").textContent = `${Math.round(percent)}%`;
    }
    const detail = el.querySelector("[data-detail]");
    if (detail && ev.phase) {
      const parts = [ev.phase];
      if (ev.fps) parts.push(`${ev.fps.toFixed(0)} fps`);
      if (ev.speed) parts.push(`${ev.speed.toFixed(2)}×`);
      if (ev.eta_seconds != null && ev.percent != null) parts.push(`ETA ${fmtEta(ev.eta_seconds)}`);
      detail.textContent = parts.join(" · ");
    } else if (detail && ev.terminal) {
      detail.textContent = "";
    }
    if (ev.terminal) {
      delete el.dataset.sequence;
      if (el.hasAttribute("data-reload-on-end")) location.reload();
    }
  }
  const timeline = document.getElementById("timeline");
  if (timeline && ev.text) {
    const li = document.createElement("li");
    li.textContent = `${ev.time} ${ev.text}`;
    timeline.appendChild(li);
  }
  if (ev.terminal) {
    const status = document.getElementById("live-status");
    if (status) status.textContent = `Job ${ev.job_id} ${ev.state}`;
    // Nothing left to follow: close, or the browser would reconnect when the stream ends.
    if (!document.querySelector("[data-job-id][data-sequence]") && live.source) {
      live.source.close();
      live.source = null;
    }
  }
}

// ---- The new-job dialog.
function setupDialog(dialog) {
  const form = dialog.querySelector("form");
  const steps = [...form.querySelectorAll("fieldset[data-step]")];
  let step = 0;
  let key = "";

  const show = (n) => {
    step = Math.max(0, Math.min(steps.length - 1, n));
    steps.forEach((fs, i) => (fs.hidden = i !== step));
    form.querySelectorAll("[data-step-marker]").forEach((li, i) => {
      if (i === step) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
    const label = dialog.querySelector(".step-label");
    label.textContent = `Step ${step + 1} of ${steps.length}: ${steps[step].querySelector("legend").textContent}`;
    form.querySelector("[data-back]").disabled = step === 0;
    form.querySelector("[data-next]").hidden = step === steps.length - 1;
    steps[step].querySelector("input:not([disabled]), select, button")?.focus();
  };

  const renumber = () => {
    for (const list of form.querySelectorAll("[data-list]")) {
      const prefix = list.dataset.field;
      [...list.querySelectorAll("[data-row]")].forEach((row, i) => {
        row.dataset.field = `${prefix}[${i}]`;
        for (const f of row.querySelectorAll("[data-name]")) {
          f.dataset.field = `${prefix}[${i}].${f.dataset.name}`;
          if (f.dataset.alias) f.dataset.fieldAlias = f.dataset.alias.split(" ").map((a) => `${prefix}[${i}].${a}`).join(" ");
        }
      });
    }
  };

  let counter = 0;
  const addRow = (name, values = {}) => {
    const list = form.querySelector(`[data-list="${name}"]`);
    const tpl = document.getElementById(`tpl-${name}`);
    const html = tpl.innerHTML.replaceAll("__i__", `${name}-${counter++}`);
    list.insertAdjacentHTML("beforeend", html);
    const row = list.lastElementChild;
    for (const [k, v] of Object.entries(values)) {
      const input = row.querySelector(`[name="${k}"]`);
      if (input) input.value = v;
    }
    renumber();
    return row;
  };

  const clearErrors = () => {
    form.querySelectorAll(".field-error, [data-form-error]").forEach((p) => (p.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
  };

  const reset = (mode) => {
    form.reset();
    form.querySelectorAll("[data-row]").forEach((r) => r.remove());
    clearErrors();
    const titles = { source: "New job from a URL or S3 source", preset: "New job from a system preset", profile: "New job from one of my profiles" };
    dialog.querySelector("h2").textContent = titles[mode] || "New job";
    const row = addRow("outputs", { filename: "output.mp4" });
    const select = row.querySelector("select");
    const group = select.querySelector(`optgroup[data-group="${mode}"] option`);
    if (group) select.value = group.value;
    key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    show(0);
  };

  const place = (violation) => {
    let name = violation.field;
    while (name) {
      const target = form.querySelector(`[data-field="${CSS.escape(name)}"]`) ||
        [...form.querySelectorAll("[data-field-alias]")].find((el) => el.dataset.fieldAlias.split(" ").includes(name));
      if (target) {
        const slot = target.querySelector(":scope > .field-error");
        slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + violation.description;
        const input = target.querySelector(":scope > input, :scope > select");
        if (input) {
          input.setAttribute("aria-invalid", "true");
          if (slot.id === "") slot.id = `${input.id}-error`;
          input.setAttribute("aria-describedby", slot.id);
        }
        return target;
      }
      name = name.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      if (name === violation.field) break;
    }
    const general = form.querySelector("[data-form-error]");
    general.textContent += `${violation.field}: ${violation.description} `;
    return null;
  };

  const value = (row, name) => row.querySelector(`[name="${name}"]`)?.value.trim() ?? "";
  const number = (row, name) => {
    const v = value(row, name);
    return v === "" ? null : Number(v);
  };
  const rows = (name) => [...form.querySelectorAll(`[data-list="${name}"] [data-row]`)];

  const order = () => {
    const priority = form.querySelector("#priority");
    return {
      idempotency_key: key,
      origin: form.querySelector("#origin").value.trim(),
      priority: priority.disabled || priority.value === "" ? null : Number(priority.value),
      outputs: rows("outputs").map((r) => ({ profile_id: value(r, "profile_id"), filename: value(r, "filename"), label: value(r, "label") })),
      thumbnails: rows("thumbnails").map((r) => ({ filename: value(r, "filename"), time_seconds: number(r, "time_seconds"), width: number(r, "width"), height: number(r, "height") })),
      destinations: rows("destinations").map((r) => value(r, "uri")),
      notifications: rows("notifications").map((r) => ({ kind: value(r, "kind"), value: value(r, "value") })),
    };
  };

  form.addEventListener("click", (e) => {
    const t = e.target.closest("button");
    if (!t) return;
    if (t.dataset.add) addRow(t.dataset.add).querySelector("input, select").focus();
    else if (t.hasAttribute("data-remove")) { t.closest("[data-row]").remove(); renumber(); }
    else if (t.hasAttribute("data-next")) show(step + 1);
    else if (t.hasAttribute("data-back")) show(step - 1);
    else if (t.hasAttribute("data-close")) dialog.close();
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const submit = form.querySelector("[data-submit]");
    submit.disabled = true;
    try {
      const response = await fetch("/ui/jobs", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf() },
        body: JSON.stringify(order()),
      });
      if (response.status === 401) { location.href = "/ui/sign-in"; return; }
      const body = await response.json();
      if (!response.ok) {
        const error = body.error || { message: "the job was refused", fields: [] };
        const placed = (error.fields || []).map(place).filter(Boolean);
        if (!error.fields || error.fields.length === 0) form.querySelector("[data-form-error]").textContent = `${error.code}: ${error.message}`;
        const first = placed[0] || form.querySelector("[data-form-error]");
        const fs = first.closest("fieldset[data-step]");
        if (fs) show(steps.indexOf(fs));
        (first.querySelector("[aria-invalid]") || first).focus?.();
        return;
      }
      addJob(body);
      dialog.close();
    } catch (err) {
      form.querySelector("[data-form-error]").textContent = `Could not submit: ${err}`;
    } finally {
      submit.disabled = false;
    }
  });

  return reset;
}

function addJob(created) {
  const table = document.getElementById("jobs");
  if (table && table.dataset.prepend) {
    document.getElementById("no-jobs")?.remove();
    table.tBodies[0].insertAdjacentHTML("afterbegin", created.row);
    const status = document.getElementById("live-status");
    if (status) status.textContent = `Job ${created.job_id} created`;
    follow();
  } else {
    location.href = `/ui/jobs/${created.job_id}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => { if (!confirm(form.dataset.confirm)) e.preventDefault(); });
  }
  const dialog = document.getElementById("new-job");
  if (dialog) {
    const reset = setupDialog(dialog);
    for (const button of document.querySelectorAll("[data-open-dialog]")) {
      button.addEventListener("click", () => {
        button.closest("details")?.removeAttribute("open");
        reset(button.dataset.mode);
        dialog.showModal();
        dialog.querySelector("#origin").focus();
      });
    }
  }
  follow();
});
