// The dashboard's page: lists the proofs the server offers and verifies each one here, in the
// browser, with the WASM verifier. The server only hands out bytes.
import init, { chart, verify } from "/pkg/zkedge_verify_wasm.js";

const status = document.getElementById("status");
const tbody = document.querySelector("#results tbody");
const bundles = new Map(); // keys index -> Promise<Uint8Array>
const seen = new Map(); // proof url -> modified time verified
const verified = new Map(); // proof url -> { model, classes, point } of the proofs that passed

async function bytesOf(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// The verifier's verdict; a trap inside the WASM module (it aborts on a panic) counts as a
// rejection, as any failure to check does.
function check(bundle, proof) {
  const t0 = performance.now();
  let verdict;
  try {
    verdict = JSON.parse(verify(bundle, proof));
  } catch (e) {
    verdict = { valid: false, error: `the verifier stopped: ${e}` };
  }
  verdict.ms = performance.now() - t0;
  return verdict;
}

function badges(v) {
  const frag = document.createDocumentFragment();
  const b = document.createElement("span");
  b.className = `badge ${v.valid ? "valid" : "invalid"}`;
  b.textContent = v.valid ? "valid" : "invalid";
  frag.append(b);
  if (v.insecure_srs) {
    const w = document.createElement("span");
    w.className = "badge warn";
    w.textContent = "insecure dev SRS";
    w.title = `${v.insecure_srs}: anyone can forge a proof over it; it proves nothing`;
    frag.append(w);
  }
  if (!v.valid && v.error) {
    const why = document.createElement("div");
    why.className = "why";
    why.textContent = v.error;
    frag.append(why);
  }
  return frag;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text ?? "";
  tr.append(td);
  return td;
}

function fill(tr, entry, v) {
  tr.replaceChildren();
  tr.dataset.verdict = v.valid ? "valid" : "invalid";
  tr.dataset.insecure = v.insecure_srs ? "1" : "0";
  cell(tr).append(badges(v));
  cell(tr, entry.sensor);
  cell(tr, v.model);
  cell(tr, v.valid ? `${v.class} "${v.label}"` : "");
  cell(tr, v.valid ? `[${v.output.join(", ")}]` : "", "mono");
  cell(tr, v.valid ? v.input + (v.input_value ? ` ${v.input_value}` : "") +
    (v.weights_hash ? `; weights hashed ${v.weights_hash}` : "") : "", "mono");
  cell(tr, new Date(entry.modified * 1000).toLocaleString());
  cell(tr, v.digest ? v.digest.slice(0, 16) + "…" : "", "mono").title = v.digest ?? "";
  cell(tr, `${v.ms.toFixed(1)} ms`);
}

async function bundleFor(keys) {
  if (!bundles.has(keys)) {
    // A failed fetch is not kept: the next poll asks again.
    const bytes = bytesOf(`/keys/${keys}/verifier.zkv`);
    bundles.set(keys, bytes);
    bytes.catch(() => bundles.delete(keys));
  }
  return bundles.get(keys);
}

async function refresh() {
  const entries = await (await fetch("/api/proofs", { cache: "no-store" })).json();
  document.getElementById("empty").hidden = entries.length > 0;
  for (const entry of entries) {
    if (seen.get(entry.url) === entry.modified) continue;
    seen.set(entry.url, entry.modified);
    let tr = tbody.querySelector(`tr[data-file="${CSS.escape(entry.file)}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.file = entry.file;
      tr.dataset.verdict = "pending";
      tbody.prepend(tr);
    }
    let v;
    try {
      if (entry.keys === null) {
        v = {
          valid: false,
          error: "no keys given to the dashboard match this proof (or it is not a proof file)",
          ms: 0,
        };
      } else {
        v = check(await bundleFor(entry.keys), await bytesOf(entry.url));
      }
    } catch (e) {
      // The bytes did not arrive (not a verdict): shown, and fetched again at the next poll.
      v = { valid: false, error: String(e), ms: 0 };
      seen.delete(entry.url);
    }
    fill(tr, entry, v);
    // A proof over an SRS whose secret is public proves nothing: shown, never charted.
    if (v.valid && !v.insecure_srs) {
      verified.set(entry.url, {
        model: v.model,
        classes: v.classes,
        point: { sensor: entry.sensor || "(unnamed)", t: entry.modified, class: v.class },
      });
    } else {
      verified.delete(entry.url);
    }
  }
  drawCharts();
}

// One chart per model, of the results that verified here.
function drawCharts() {
  const byModel = new Map();
  for (const r of verified.values()) {
    if (!byModel.has(r.model)) byModel.set(r.model, { classes: r.classes, points: [] });
    byModel.get(r.model).points.push(r.point);
  }
  const host = document.getElementById("charts");
  host.replaceChildren();
  for (const [model, { classes, points }] of byModel) {
    const figure = document.createElement("figure");
    figure.dataset.model = model;
    figure.dataset.points = String(points.length);
    const caption = document.createElement("figcaption");
    caption.textContent = `${model}: ${points.length} verified result(s)`;
    const svg = new DOMParser().parseFromString(
      chart(JSON.stringify(points), JSON.stringify(classes), 900, 260), "image/svg+xml");
    figure.append(caption, svg.documentElement);
    host.append(figure);
  }
}

function manual() {
  const out = document.getElementById("manual");
  const proof = document.getElementById("proof-file").files[0];
  const bundle = document.getElementById("bundle-file").files[0];
  if (!proof || !bundle) return;
  Promise.all([proof.arrayBuffer(), bundle.arrayBuffer()]).then(([p, b]) => {
    const v = check(new Uint8Array(b), new Uint8Array(p));
    out.replaceChildren(badges(v));
    out.dataset.verdict = v.valid ? "valid" : "invalid";
    if (v.valid) {
      const what = document.createElement("p");
      what.textContent = `${v.model}: class ${v.class} "${v.label}", output [${v.output.join(", ")}], ` +
        `input ${v.input}; ` +
        (v.weights_hash ? `weights hash ${v.weights_hash} (compare it with the published one); ` : "") +
        `verifying key ${v.vk_hash} (compare it with the one you trust); ` +
        `${v.ms.toFixed(1)} ms`;
      out.append(what);
    }
  });
}

function dropZone() {
  const zone = document.getElementById("drop");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    for (const f of e.dataTransfer.files) {
      const input = document.getElementById(f.name.endsWith(".zkv") ? "bundle-file" : "proof-file");
      const dt = new DataTransfer();
      dt.items.add(f);
      input.files = dt.files;
    }
    manual();
  });
  for (const id of ["proof-file", "bundle-file"]) {
    document.getElementById(id).addEventListener("change", manual);
  }
}

async function main() {
  const t0 = performance.now();
  await init();
  status.textContent = `Verifier loaded (${(performance.now() - t0).toFixed(0)} ms).`;
  status.dataset.state = "ready";
  dropZone();
  for (;;) {
    try {
      await refresh();
      status.dataset.state = "ready";
    } catch (e) {
      status.textContent = `Could not reach the dashboard: ${e}`;
      status.dataset.state = "error";
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
}

main().catch((e) => {
  status.textContent = `The verifier did not load: ${e}`;
  status.dataset.state = "error";
});
