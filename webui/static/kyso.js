// Kyso web pages: the sign page's preview and the verify page's table. Plain JavaScript, no build step.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function post(url, file) {
    var body = new FormData();
    body.append("file", file, file.name);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" } });
  }

  // -- sign page: preview of page 1 of the chosen file --
  var form = document.querySelector("form[data-preview]");
  if (form) {
    var input = form.querySelector('input[type=file][data-preview-target]');
    var img = document.getElementById(input.getAttribute("data-preview-target"));
    var note = document.getElementById("preview-note");
    var current = null;
    input.addEventListener("change", function () {
      var file = input.files[0];
      if (!file) return;
      note.textContent = note.getAttribute("data-loading");
      note.hidden = false;
      img.hidden = true;
      post(form.getAttribute("data-preview"), file).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.blob();
      }).then(function (blob) {
        if (current) URL.revokeObjectURL(current);
        current = URL.createObjectURL(blob);
        img.src = current;
        img.hidden = false;
        note.hidden = true;
      }).catch(function () {
        note.textContent = note.getAttribute("data-failed");
      });
    });
  }

  // -- verify page: one row per file, filled in as each finishes --
  var zone = document.getElementById("dropzone");
  if (!zone) return;
  var labels = JSON.parse(document.getElementById("labels").textContent);
  var endpoint = zone.getAttribute("data-endpoint");
  var picker = document.getElementById("files");
  var tbody = document.querySelector("#results tbody");
  var progress = document.getElementById("progress");
  var bar = document.getElementById("progress-bar");
  var queue = [], running = 0, total = 0, finished = 0, PARALLEL = 3;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;   // text only: nothing from a file becomes markup
    return node;
  }
  function pick(pair) { return pair ? (labels.lang === "en" ? pair.en : pair.vi) || pair.message || "" : ""; }
  function signers(report) {
    return (report.signatures || []).filter(function (s) { return s.kind === "signature"; }).map(function (s) {
      return (s.signer && (s.signer.common_name || s.signer.subject)) || s.field;
    }).join(", ");
  }
  function updateProgress() {
    progress.textContent = "(" + finished + "/" + total + " " + labels.done + ")";
    // a bar for a batch: how much of it is done, while the rows fill in
    bar.max = Math.max(total, 1);
    bar.value = finished;
    bar.hidden = total < 2;
  }
  function fill(row, outcome, who, why, href) {
    // the outcome: the verdict and the Decree 30 pair together (green only when both hold)
    row.className = outcome.colour;
    row.setAttribute("data-verdict", outcome.code);
    var cells = row.children;
    cells[1].textContent = "";
    var label = outcome.vi ? (labels.lang === "en" ? outcome.en : outcome.vi) : (labels[outcome.code] || outcome.code);
    cells[1].appendChild(el("span", "chip " + outcome.colour, label));
    cells[2].textContent = who;
    cells[3].textContent = why;
    cells[4].textContent = "";
    if (href) {
      var a = el("a", null, labels.open);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener";
      cells[4].appendChild(a);
    }
  }
  function run(job) {
    running++;
    post(endpoint, job.file).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (res.ok && res.body.report) {
        var report = res.body.report;
        var outcome = report.outcome || { code: report.verdict, colour: report.verdict };
        fill(job.row, outcome, signers(report), pick((report.reasons || [])[0]), res.body.href);
      } else {
        var e = res.body.error || {};
        fill(job.row, { code: "error", colour: "grey" }, "", labels.lang === "en" ? (e.message || "") : (e.message_vi || e.message || ""), null);
      }
    }).catch(function (err) {
      fill(job.row, { code: "error", colour: "grey" }, "", String(err), null);
    }).then(function () {
      running--; finished++; updateProgress(); next();
    });
  }
  function next() {
    while (running < PARALLEL && queue.length) run(queue.shift());
  }
  function add(files) {
    Array.prototype.forEach.call(files, function (file) {
      var row = el("tr", "pending");
      row.appendChild(el("td", null, file.name));
      var verdict = el("td");
      verdict.appendChild(el("span", "chip pending", labels.pending));
      row.appendChild(verdict);
      row.appendChild(el("td")); row.appendChild(el("td")); row.appendChild(el("td"));
      tbody.appendChild(row);
      queue.push({ file: file, row: row });
      total++;
    });
    document.getElementById("empty").hidden = total > 0;
    updateProgress();
    next();
  }
  picker.addEventListener("change", function () { add(picker.files); picker.value = ""; });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { if (e.dataTransfer && e.dataTransfer.files) add(e.dataTransfer.files); });
  zone.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); } });
})();
