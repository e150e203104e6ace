// cors-lab probe: runs one case's fetch() inside the page and reports what the
// page's JavaScript could see. Loaded by the frontend page; called by every
// browser driver (Playwright evaluate, WebDriver execute_async_script) alike.
window.corsLabProbe = async function (spec) {
  if (spec.sandboxed) return window.corsLabSandboxed(spec);
  const init = {
    method: spec.method,
    headers: spec.headers,
    credentials: spec.credentials,
    mode: spec.mode,
    redirect: spec.redirect,
  };
  if (spec.body !== null && spec.body !== undefined) init.body = spec.body;
  const controller = new AbortController();
  init.signal = controller.signal;
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; controller.abort(); }, spec.timeout_ms);
  const result = { outcome: null, status: null, response_type: null, readable_headers: null,
                   read_headers: {}, body: null, error: null, redirected: null };
  try {
    const response = await fetch(spec.url, init);
    result.status = response.status;
    result.response_type = response.type;
    result.redirected = response.redirected;
    result.readable_headers = {};
    for (const [name, value] of response.headers) result.readable_headers[name] = value;
    for (const name of spec.read_headers) result.read_headers[name] = response.headers.get(name);
    if (response.type === "opaque" || response.type === "opaqueredirect") {
      result.outcome = "blocked";
      result.error = "opaque response (" + response.type + "): the page cannot read status, headers or body";
    } else {
      const text = await response.text();
      result.body = text.length > 2000 ? text.slice(0, 2000) : text;
      result.outcome = "allowed";
    }
  } catch (error) {
    result.outcome = timedOut ? "timeout" : "blocked";
    result.error = timedOut ? "no answer within " + spec.timeout_ms + " ms" : String(error);
  } finally {
    clearTimeout(timer);
  }
  return result;
};

// Run the probe inside <iframe sandbox="allow-scripts">: an opaque origin, so the
// request's Origin is "null" (how sandboxed iframes and data: documents fetch).
// One iframe per page, made once and reused: a browser attaches to a new frame
// asynchronously, and what a frame reports before that would be lost.
window.corsLabSandboxed = function (spec) {
  if (!window.corsLabSandbox) {
    // The lab calls in as soon as this script has run, which can be before the page's body exists.
    const parsed = document.readyState === "loading"
      ? new Promise((done) => document.addEventListener("DOMContentLoaded", done, { once: true }))
      : Promise.resolve();
    window.corsLabSandbox = parsed.then(() => new Promise((ready) => {
      const frame = document.createElement("iframe");
      frame.setAttribute("sandbox", "allow-scripts");
      const pending = new Map();
      window.addEventListener("message", (event) => {
        if (event.source !== frame.contentWindow || !event.data) return;
        if (event.data.corsLabReady) ready({ frame, pending });
        else if (pending.has(event.data.corsLabId)) {
          pending.get(event.data.corsLabId)(event.data.result);
          pending.delete(event.data.corsLabId);
        }
      });
      frame.srcdoc = "<script>window.corsLabProbe = " + window.corsLabProbe.toString() + ";" +
        "window.addEventListener('message', (event) => window.corsLabProbe(event.data.spec).then((result) =>" +
        " parent.postMessage({ corsLabId: event.data.id, result: result }, '*')));" +
        "parent.postMessage({ corsLabReady: true }, '*');<\/script>";
      document.body.appendChild(frame);
    }));
  }
  return window.corsLabSandbox.then(({ frame, pending }) => new Promise((resolve) => {
    const id = Math.random().toString(36).slice(2);
    pending.set(id, resolve);
    frame.contentWindow.postMessage({ id, spec: Object.assign({}, spec, { sandboxed: false }) }, "*");
  }));
};

// Cases in flight together. corsLabStart begins each case (its repeats, and the pauses
// between them, run here in the page, so the lab never sleeps) and returns at once;
// corsLabResults waits for the named cases and hands back their attempts. Every case
// fetches URLs carrying its own token, so cases in flight cannot share a cache entry.
window.corsLabRuns = window.corsLabRuns || new Map();
window.corsLabAttempts = async function (spec) {
  const started = performance.now();
  const attempts = [];
  for (let i = 0; i < (spec.repeat || 1); i++) {
    if (i && spec.pause_ms) await new Promise((resume) => setTimeout(resume, spec.pause_ms));
    attempts.push(await window.corsLabProbe(spec));
  }
  return { attempts: attempts, ms: performance.now() - started };
};
window.corsLabStart = function (specs) {
  for (const spec of specs) {
    window.corsLabRuns.set(spec.token, window.corsLabAttempts(spec).catch(
      (error) => ({ attempts: [{ outcome: "error", error: String(error) }], ms: 0 })));
  }
  return specs.length;
};
window.corsLabResults = async function (tokens) {
  const out = {};
  for (const token of tokens) {
    out[token] = window.corsLabRuns.has(token) ? await window.corsLabRuns.get(token) : null;
    window.corsLabRuns.delete(token);
  }
  return out;
};
