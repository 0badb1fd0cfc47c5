// Ordinance console: the only script the pages load (CSP: script-src 'self').
// Signing happens here, in the approver's browser: an Ed25519 WebCrypto key (ECDSA P-256 where
// the browser lacks Ed25519) generated non-extractable and kept in IndexedDB; the server sees only the public key and the
// signed DSSE envelope. Pages work without this file except for signing.
"use strict";
(() => {
  const DB = "ordinance-console";
  const STORE = "keys";
  const PAYLOAD_TYPE = "application/vnd.in-toto+json";
  const enc = new TextEncoder();

  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  async function dbOp(mode, fn) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  const getKey = (name) => dbOp("readonly", (s) => s.get(name));
  const putKey = (name, rec) => dbOp("readwrite", (s) => s.put(rec, name));

  function concat(...parts) {
    const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
    const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
    let i = 0;
    for (const a of arrays) { out.set(a, i); i += a.length; }
    return out;
  }
  function b64(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }
  function unb64(text) {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  // DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body
  function pae(type, payload) {
    const t = enc.encode(type);
    return concat(enc.encode(`DSSEv1 ${t.length} `), t, enc.encode(` ${payload.length} `), payload);
  }

  // RFC 8785 (JCS): object keys sorted by UTF-16 code units (JS's default sort), strings
  // and numbers serialized as ECMAScript JSON.stringify does (which JCS adopts).
  function canonical(v) {
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error("non-finite number");
      return JSON.stringify(v);
    }
    if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }

  const P256 = "ECDSA P-256";
  const signAlgorithm = (rec) => (rec.alg === P256 ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" });

  // A C2SP signed-note verifier key: name+keyid+base64(0x01 || public key) for Ed25519;
  // name+keyid+base64(0x02 || DER SPKI) for ECDSA P-256 (key ID: SHA-256(SPKI)[:4]).
  async function vkeyOf(name, publicKey, alg) {
    if (alg === P256) {
      const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
      const keyid = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", spki)).slice(0, 4));
      return { vkey: `${name}+${keyid}+${b64(concat([0x02], spki))}`, keyid };
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
    const typed = concat([0x01], raw);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", concat(enc.encode(name), [0x0a], typed)));
    const keyid = hex(digest.slice(0, 4));
    return { vkey: `${name}+${keyid}+${b64(typed)}`, keyid };
  }

  // Ed25519 where the browser has it; otherwise ECDSA P-256 (both non-extractable).
  async function generate(name) {
    let pair, alg = "Ed25519";
    try {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    } catch (e) {
      alg = P256;
      pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    }
    const { vkey, keyid } = await vkeyOf(name, pair.publicKey, alg);
    const rec = { privateKey: pair.privateKey, publicKey: pair.publicKey, vkey, keyid, alg, created: new Date().toISOString() };
    await putKey(name, rec);
    return rec;
  }

  function say(el, text, isError) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", Boolean(isError));
  }

  // ------------------------------------------------------------------ the Keys page
  async function keysPage(box) {
    const name = box.dataset.keyName;
    const status = document.getElementById("device-key-status");
    const out = document.getElementById("device-vkey");
    const button = document.getElementById("generate-key");
    if (!window.isSecureContext || !crypto.subtle) {
      say(status, "This page is not a secure context (HTTPS or localhost): WebCrypto is unavailable.", true);
      button.disabled = true;
      return;
    }
    const show = (rec) => {
      out.value = rec.vkey;
      say(status, `A non-extractable ${rec.alg || "Ed25519"} key for ${name} is stored in this browser (created ${rec.created}).`);
      button.textContent = "Replace it with a new key";
    };
    try {
      const rec = await getKey(name);
      if (rec) show(rec); else say(status, `No key for ${name} in this browser yet.`);
    } catch (e) {
      say(status, `Cannot read this browser's key store: ${e}`, true);
    }
    button.addEventListener("click", async () => {
      try {
        show(await generate(name));
      } catch (e) {
        say(status, `This browser can create neither an Ed25519 nor an ECDSA P-256 key (${e.name || e}); use a current Chromium, Firefox or Safari.`, true);
      }
    });
  }

  // ------------------------------------------------------------------ signing forms
  function signingForm(form) {
    const status = document.getElementById("signing-status");
    form.addEventListener("submit", async (event) => {
      if (form.dataset.signed === "1") return;
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const rec = await getKey(form.dataset.keyName);
        if (!rec) throw new Error("no key in this browser: generate one on the Keys page and have it enrolled");
        const stmt = JSON.parse(new TextDecoder().decode(unb64(form.elements.payload.value)));
        stmt.predicate.signedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        if (form.dataset.sign === "approval") stmt.predicate.comment = form.elements.comment.value;
        if (form.dataset.sign === "waiver") stmt.predicate.justification = form.elements.justification.value;
        if (form.dataset.sign === "decline") stmt.predicate.reason = form.elements.reason.value;
        const payload = enc.encode(canonical(stmt));
        // Ed25519, or ECDSA P-256/SHA-256 (WebCrypto returns r||s, the form the server verifies)
        const sig = new Uint8Array(await crypto.subtle.sign(signAlgorithm(rec), rec.privateKey, pae(PAYLOAD_TYPE, payload)));
        form.elements.envelope.value = JSON.stringify({
          payload: b64(payload),
          payloadType: PAYLOAD_TYPE,
          signatures: [{ keyid: rec.keyid, sig: b64(sig) }],
        });
        say(status, `Signed with key ${rec.keyid}; submitting…`);
        form.dataset.signed = "1";
        form.submit();
      } catch (e) {
        say(status, `Not signed: ${e.message || e}`, true);
        button.disabled = false;
      }
    });
  }

  function start() {
    const box = document.getElementById("device-key");
    if (box) keysPage(box);
    for (const form of document.querySelectorAll("form[data-sign]")) signingForm(form);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
