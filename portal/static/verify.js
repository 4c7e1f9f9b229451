// In-browser verification of a page's evidence bundle. This script only
// fetches the bundle and the genesis file and displays what the ledger's
// verifier, compiled to WebAssembly (civicVerify), returns: the verdict is
// the verifier's. It never shows VERIFIED on its own account.
(function () {
  "use strict";
  var box = document.getElementById("check-box");
  if (!box || !box.dataset.wasm) { return; }
  var button = document.getElementById("check-button");
  var out = document.getElementById("check-result");
  if (typeof WebAssembly !== "object" || typeof Go !== "function" || !window.fetch) { return; }
  var t = function (k) { return box.getAttribute("data-t-" + k) || k; };
  Array.prototype.forEach.call(box.querySelectorAll(".js-needed"), function (e) { e.hidden = true; });
  Array.prototype.forEach.call(box.querySelectorAll(".js-only"), function (e) { e.hidden = false; });

  var verifier = null;
  function loadVerifier() {
    if (!verifier) {
      verifier = (async function () {
        var begun = performance.now();
        var go = new Go();
        var res = await fetch(box.dataset.wasm);
        if (!res.ok) { throw new Error(t("noload") + " (HTTP " + res.status + ")"); }
        var inst;
        if (WebAssembly.instantiateStreaming) {
          inst = await WebAssembly.instantiateStreaming(res, go.importObject);
        } else {
          inst = await WebAssembly.instantiate(await res.arrayBuffer(), go.importObject);
        }
        go.run(inst.instance);
        box.dataset.wasmms = String(Math.round(performance.now() - begun));
        if (typeof window.civicVerify !== "function") { throw new Error(t("noload")); }
        return window.civicVerify;
      })();
      verifier.catch(function () { verifier = null; });
    }
    return verifier;
  }

  async function fetchOK(url, what) {
    var res = await fetch(url, { cache: "no-store", credentials: "omit" });
    if (!res.ok) {
      var text = "";
      try { text = (await res.text()).slice(0, 300); } catch (e) { /* no body */ }
      throw new Error(what + " (HTTP " + res.status + (text ? ": " + text : "") + ")");
    }
    return res;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function row(dl, label, value) {
    var d = el("div");
    d.appendChild(el("dt", "", label));
    d.appendChild(el("dd", "", value));
    dl.appendChild(d);
  }

  function show(r) {
    out.textContent = "";
    var outcome = r && typeof r.outcome === "string" ? r.outcome : "FAILED";
    var cls = outcome === "VERIFIED" ? "ok" : outcome === "VERIFIED ABSENT" ? "absent" : "failed";
    if (cls === "failed") { outcome = "FAILED"; }
    var verdict = el("p", "verdict " + cls);
    verdict.appendChild(el("strong", "", outcome));
    out.appendChild(verdict);
    out.appendChild(el("p", "", cls === "ok" ? t("verified") : cls === "absent" ? t("absent") : t("failed")));
    var dl = el("dl", "fields");
    if (cls === "failed") {
      row(dl, t("reason"), (r && r.failed_step ? r.failed_step + ": " : "") + ((r && r.reason) || ""));
    } else {
      row(dl, t("height"), String(r.height));
      if (r.block_time) { row(dl, t("time"), r.block_time.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC")); }
      row(dl, t("signed"), (r.agencies || []).join(", "));
    }
    if (r && r.genesis_sha256) {
      var same = r.genesis_sha256 === box.dataset.sum;
      row(dl, t("sum"), r.genesis_sha256 + " (" + (same ? t("summatch") : t("sumdiffer")) + ")");
      dl.lastChild.lastChild.className = "hash";
    }
    out.appendChild(dl);
    var det = el("details");
    det.appendChild(el("summary", "", t("detail")));
    if (r && r.claims && r.claims.length) {
      det.appendChild(el("h3", "", t("claims")));
      var ul = el("ul");
      r.claims.forEach(function (c) { ul.appendChild(el("li", "", c)); });
      det.appendChild(ul);
    }
    if (r && r.steps && r.steps.length) {
      det.appendChild(el("h3", "", t("steps")));
      var ol = el("ol", "check-steps");
      r.steps.forEach(function (s) {
        ol.appendChild(el("li", s.ok ? "" : "bad", s.step + " — " + (s.ok ? t("ok") : t("bad")) + ": " + s.detail));
      });
      det.appendChild(ol);
    }
    if (r && r.unverified && (r.unverified.created || r.unverified.tool)) {
      det.appendChild(el("h3", "", t("unverified")));
      det.appendChild(el("p", "", r.unverified.note + ". " + [r.unverified.created, r.unverified.tool].filter(Boolean).join(" · ")));
    }
    out.appendChild(det);
    out.dataset.outcome = outcome;
  }

  button.addEventListener("click", async function () {
    button.disabled = true;
    out.dataset.outcome = "";
    out.textContent = t("checking");
    var clicked = performance.now();
    try {
      var results = await Promise.all([
        loadVerifier(),
        fetchOK(box.dataset.bundle, t("nobundle")).then(function (r) { return r.text(); }),
        fetchOK(box.dataset.genesis, t("nobundle")).then(function (r) { return r.arrayBuffer(); })
      ]);
      var started = performance.now();
      out.dataset.loadms = String(Math.round(started - clicked));
      var r = results[0](results[1], new Uint8Array(results[2]));
      out.dataset.ms = String(Math.round(performance.now() - started));
      show(r);
    } catch (e) {
      show({ outcome: "FAILED", reason: String(e && e.message ? e.message : e), steps: [] });
    } finally {
      button.disabled = false;
    }
  });
})();
