// The explain-button page. Every text that comes from the server (labels, tokens, file names,
// errors) is put on the page with textContent, never as HTML.
"use strict";

const TEXT = {
  en: {
    title: "Explain a prediction", model: "Model", drop: "Drop an image here or choose a file",
    text: "Sentence", method: "Method", parameters: "Parameters", explain: "Explain", cancel: "Cancel",
    compare: "Compare methods on this input", compare_run: "Run the comparison", result: "Result",
    runs: "Earlier runs", col_method: "Method", col_model: "Model", col_input: "Input", col_class: "Class",
    col_state: "State", queued: "queued", running: "running", done: "done", failed: "failed",
    cancelled: "cancelled", samples: "samples", need_input: "Choose an image (or type a sentence) first.",
    class_line: "Class {target} ({label}), probability {prob}", download_png: "PNG",
    download_npz: "explanation (.npz)", download_html: "HTML", uploading: "uploading...",
    image_info: "{name}: {w} x {h} pixels", unavailable: "(not here: {reason})", position: "place {n} in the queue",
    top: "Top classes", seconds: "{s} s", images: "image", texts: "text", more_params: "More parameters",
  },
  zh: {
    title: "解释一个预测", model: "模型", drop: "把图片拖到这里或选择文件", text: "句子", method: "方法",
    parameters: "参数", explain: "解释", cancel: "取消", compare: "在此输入上比较多种方法", compare_run: "开始比较",
    result: "结果", runs: "之前的运行", col_method: "方法", col_model: "模型", col_input: "输入", col_class: "类别",
    col_state: "状态", queued: "排队中", running: "运行中", done: "完成", failed: "失败", cancelled: "已取消",
    samples: "样本", need_input: "请先选择图片（或输入句子）。", class_line: "类别 {target}（{label}），概率 {prob}",
    download_png: "PNG", download_npz: "解释文件 (.npz)", download_html: "HTML", uploading: "上传中……",
    image_info: "{name}：{w} x {h} 像素", unavailable: "（此处不可用：{reason}）", position: "队列第 {n} 位",
    top: "最可能的类别", seconds: "{s} 秒", images: "图像", texts: "文本", more_params: "更多参数",
  },
};

const state = {
  lang: "en", token: "", models: [], model: null, input: null, job: null, group: null,
  params: {},  // method -> {name: text typed}
  poll: null,
};

function t(key, values) {
  let s = (TEXT[state.lang] && TEXT[state.lang][key]) || TEXT.en[key] || key;
  for (const [k, v] of Object.entries(values || {})) s = s.split("{" + k + "}").join(String(v));
  return s;
}

function $(id) { return document.getElementById(id); }

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

async function api(path, options) {
  const opts = Object.assign({headers: {}}, options || {});
  opts.headers = Object.assign({"X-PXI-Token": state.token}, opts.headers);
  const response = await fetch("api/" + path, opts);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) throw new Error((body && body.error) || ("HTTP " + response.status));
  return body;
}

function fileUrl(job, kind, download) {
  return "api/jobs/" + encodeURIComponent(job.id) + "/files/" + kind + "?token=" + encodeURIComponent(state.token) +
    (download ? "&download=1" : "");
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function setLanguage(lang) {
  state.lang = TEXT[lang] ? lang : "en";
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  try { localStorage.setItem("pxi-lang", state.lang); } catch (e) { /* private mode */ }
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const b of document.querySelectorAll(".lang button")) b.classList.toggle("active", b.dataset.lang === state.lang);
  renderModelInfo();
  if (state.job) renderJob(state.job);
  refreshRuns();
}

// -- models, methods, parameters ---------------------------------------------------------------
function currentModel() { return state.models.find(m => m.id === $("model").value) || null; }
function currentMethod() {
  const model = currentModel();
  return model ? model.methods.find(m => m.name === $("method").value) || null : null;
}

function renderModelInfo() {
  const model = currentModel();
  $("model-info").textContent = model ? (model.description + " - " + t(model.kind === "text" ? "texts" : "images") +
    (model.num_classes ? ", " + model.num_classes + " classes" : "")) : "";
  const method = currentMethod();
  $("method-summary").textContent = method ? method.summary : "";
}

function selectModel() {
  const model = currentModel();
  if (!model) return;
  $("image-input").hidden = model.kind !== "image";
  $("text-input").hidden = model.kind !== "text";
  if (state.input && state.input.kind !== model.kind) state.input = null;
  const select = $("method");
  select.replaceChildren();
  const box = $("compare-methods");
  box.replaceChildren();
  for (const m of model.methods) {
    const option = el("option", m.available ? m.name : m.name + " " + t("unavailable", {reason: m.reason}), {value: m.name});
    option.disabled = !m.available;
    select.appendChild(option);
    if (m.available) {
      const label = el("label", null, {class: "check"});
      const check = el("input", null, {type: "checkbox", value: m.name});
      label.appendChild(check);
      label.appendChild(document.createTextNode(" " + m.name));
      box.appendChild(label);
    }
  }
  const first = model.methods.find(m => m.available);
  if (first) select.value = first.name;
  renderParams();
  renderModelInfo();
}

function paramText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

function renderParams() {
  const method = currentMethod();
  const box = $("params");
  for (const node of Array.from(box.children)) if (node.tagName !== "LEGEND") node.remove();
  if (!method) return;
  const typed = state.params[method.name] || {};
  const MAIN = 5;  // the first parameters of the function are its main ones; the rest fold away
  let more = null;
  method.params.forEach((p, index) => {
    if (index === MAIN) {
      more = el("details", null, {id: "more-params"});
      more.appendChild(el("summary", t("more_params"), {"data-i18n": "more_params"}));
      box.appendChild(more);
    }
    const row = el("div", null, {class: "param"});
    const id = "param-" + p.name;
    row.appendChild(el("label", p.name, {for: id}));
    let input;
    if (p.type === "bool") {
      input = el("input", null, {type: "checkbox", id: id});
      input.checked = p.name in typed ? typed[p.name] : Boolean(p.default);
    } else {
      input = el("input", null, {type: "text", id: id, placeholder: p.default === null ? "None" : ""});
      input.value = p.name in typed ? typed[p.name] : paramText(p.default);
    }
    input.dataset.param = p.name;
    input.addEventListener("change", () => rememberParams(method.name));
    row.appendChild(input);
    row.appendChild(el("span", "(" + (p.default === null ? "None" : paramText(p.default)) + ")", {class: "hint"}));
    (more || box).appendChild(row);
  });
  renderModelInfo();
}

function rememberParams(methodName) {
  const typed = {};
  for (const input of $("params").querySelectorAll("[data-param]")) {
    typed[input.dataset.param] = input.type === "checkbox" ? input.checked : input.value;
  }
  state.params[methodName] = typed;
}

function paramsFor(methodName) {
  // only what differs from the defaults is sent; the server coerces the text to each parameter's type
  const model = currentModel();
  const method = model.methods.find(m => m.name === methodName);
  const typed = state.params[methodName] || {};
  const out = {};
  for (const p of method.params) {
    if (!(p.name in typed)) continue;
    const value = typed[p.name];
    if (p.type === "bool" ? value !== Boolean(p.default) : value !== paramText(p.default)) out[p.name] = value;
  }
  return out;
}

// -- the input -------------------------------------------------------------------------------
async function upload(file) {
  showError("");
  $("input-info").textContent = t("uploading");
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    state.input = await api("inputs", {method: "POST", body: form});
    $("input-info").textContent = t("image_info", {name: state.input.name, w: state.input.width, h: state.input.height});
    const preview = $("preview");
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  } catch (e) {
    state.input = null;
    $("input-info").textContent = "";
    showError(e.message);
  }
}

async function inputForRequest() {
  const model = currentModel();
  if (model.kind === "text") {
    const text = $("text").value;
    if (!text.trim()) throw new Error(t("need_input"));
    return {text: text};
  }
  if (!state.input) throw new Error(t("need_input"));
  return {input: state.input.id};
}

// -- jobs ----------------------------------------------------------------------------------
async function explain() {
  showError("");
  const method = currentMethod();
  if (!method) return;
  rememberParams(method.name);
  try {
    const body = Object.assign({model: currentModel().id, method: method.name, params: paramsFor(method.name)},
      await inputForRequest());
    state.group = null;
    $("compare-view").replaceChildren();
    const job = await api("explain", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)});
    follow(job);
  } catch (e) { showError(e.message); }
}

async function compare() {
  showError("");
  const method = currentMethod();
  if (method) rememberParams(method.name);
  const names = Array.from($("compare-methods").querySelectorAll("input:checked")).map(c => c.value);
  if (!names.length) return;
  try {
    const params = {};
    for (const n of names) params[n] = paramsFor(n);
    const body = Object.assign({model: currentModel().id, methods: names, params: params}, await inputForRequest());
    const answer = await api("compare", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)});
    state.group = answer.group;
    follow(answer.jobs[answer.jobs.length - 1]);
  } catch (e) { showError(e.message); }
}

function follow(job) {
  state.job = job;
  renderJob(job);
  if (state.poll) clearTimeout(state.poll);
  const tick = async () => {
    try {
      const fresh = await api("jobs/" + encodeURIComponent(state.job.id));
      state.job = fresh;
      renderJob(fresh);
      const groupBusy = state.group ? await renderCompare() : false;
      if (groupBusy || fresh.state === "queued" || fresh.state === "running") {
        state.poll = setTimeout(tick, 250);
      } else {
        state.poll = null;
        refreshRuns();
      }
    } catch (e) { showError(e.message); }
  };
  state.poll = setTimeout(tick, 150);
  refreshRuns();
}

async function cancel() {
  if (!state.job) return;
  try {
    if (state.group) {
      for (const j of await api("jobs")) {
        if (j.group === state.group && (j.state === "queued" || j.state === "running")) {
          await api("jobs/" + encodeURIComponent(j.id) + "/cancel", {method: "POST"});
        }
      }
    } else {
      await api("jobs/" + encodeURIComponent(state.job.id) + "/cancel", {method: "POST"});
    }
  } catch (e) { showError(e.message); }
}

function renderProgress(job) {
  const bar = $("progress");
  const p = job.progress;
  const busy = job.state === "queued" || job.state === "running";
  $("cancel").disabled = !busy;
  if (p.fraction === null || p.fraction === undefined) bar.removeAttribute("value");
  else bar.value = p.fraction;
  let text = t(job.state);
  if (job.state === "queued" && job.queue_position) text += " - " + t("position", {n: job.queue_position});
  text += " - " + p.done + (p.total ? " / " + p.total : "") + " " + t("samples");
  if (job.seconds !== null && job.seconds !== undefined) text += " - " + t("seconds", {s: job.seconds.toFixed(1)});
  $("progress-text").textContent = text;
}

function renderJob(job) {
  renderProgress(job);
  if (job.state === "failed") showError(job.error);
  const figure = $("figure");
  const head = $("result-head");
  const top = $("top-classes");
  const tokens = $("tokens");
  const downloads = $("downloads");
  if (job.state !== "done") {
    if (job.state !== "failed" && job.state !== "cancelled") return;
    figure.hidden = true;
    head.textContent = "";
    top.replaceChildren();
    tokens.replaceChildren();
    downloads.replaceChildren();
    return;
  }
  const r = job.result || {};
  head.textContent = job.method + ": " + t("class_line", {target: r.target, label: r.label,
    prob: r.probability === null || r.probability === undefined ? "?" : Number(r.probability).toFixed(3)});
  top.replaceChildren();
  for (const c of r.top_classes || []) top.appendChild(el("li", c.index + " " + c.label + " - " + c.probability.toFixed(3)));
  tokens.replaceChildren();
  for (const tok of r.tokens || []) {
    tokens.appendChild(el("li", tok.token + " " + (tok.weight >= 0 ? "+" : "") + tok.weight.toFixed(3),
      {class: tok.weight >= 0 ? "pos" : "neg"}));
  }
  if (job.files.includes("png")) {
    const url = fileUrl(job, "png", false);
    if (figure.dataset.job !== job.id) {
      figure.dataset.job = job.id;
      figure.alt = job.method;
      figure.src = url;
    }
    figure.hidden = false;
  } else {
    figure.hidden = true;
  }
  downloads.replaceChildren();
  for (const kind of ["png", "npz", "html"]) {
    if (!job.files.includes(kind)) continue;
    const a = el("a", t("download_" + kind), {href: fileUrl(job, kind, true), download: "", class: "download"});
    a.dataset.kind = kind;
    downloads.appendChild(a);
  }
}

async function renderCompare() {
  const box = $("compare-view");
  const jobs = (await api("jobs")).filter(j => j.group === state.group).reverse();
  box.replaceChildren();
  for (const job of jobs) {
    const cell = el("figure", null, {class: "compare-cell"});
    if (job.state === "done" && job.files.includes("png")) {
      cell.appendChild(el("img", null, {src: fileUrl(job, "png", false), alt: job.method}));
    }
    const r = job.result || {};
    cell.appendChild(el("figcaption", job.method + " - " + t(job.state) + (r.label ? " - " + r.label : "") +
      (job.error ? " - " + job.error : "")));
    box.appendChild(cell);
  }
  const busy = jobs.find(j => j.state === "queued" || j.state === "running");
  if (busy) {
    state.job = busy;
    renderProgress(busy);
  }
  return Boolean(busy);
}

async function refreshRuns() {
  if (!state.token) return;
  let jobs;
  try { jobs = await api("jobs"); } catch (e) { return; }
  const body = $("runs").querySelector("tbody");
  body.replaceChildren();
  for (const job of jobs) {
    const row = el("tr", null, {class: "run"});
    row.dataset.job = job.id;
    const r = job.result || {};
    for (const text of [job.method, job.model, job.input_name, r.label === undefined || r.label === null ? "" : r.label,
                        t(job.state)]) {
      row.appendChild(el("td", text));
    }
    row.addEventListener("click", () => { state.group = job.group; follow(job); });
    body.appendChild(row);
  }
}

// -- start -----------------------------------------------------------------------------------
async function start() {
  state.token = new URLSearchParams(window.location.search).get("token") || "";
  let lang = "en";
  try { lang = localStorage.getItem("pxi-lang") || (navigator.language || "").startsWith("zh") && "zh" || "en"; }
  catch (e) { /* private mode */ }
  for (const b of document.querySelectorAll(".lang button")) b.addEventListener("click", () => setLanguage(b.dataset.lang));
  setLanguage(lang);
  try {
    state.models = await api("models");
  } catch (e) { showError(e.message); return; }
  const select = $("model");
  for (const m of state.models) select.appendChild(el("option", m.id, {value: m.id}));
  select.addEventListener("change", selectModel);
  $("method").addEventListener("change", renderParams);
  $("file").addEventListener("change", () => { if ($("file").files.length) upload($("file").files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  $("explain").addEventListener("click", explain);
  $("cancel").addEventListener("click", cancel);
  $("compare").addEventListener("click", compare);
  selectModel();
  refreshRuns();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
