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
window.corsLabSandboxed = function (spec) {
  return new Promise((resolve) => {
    const id = Math.random().toString(36).slice(2);
    const frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "allow-scripts");
    const inner = JSON.stringify(Object.assign({}, spec, { sandboxed: false })).replace(/</g, "\\u003c");
    const listener = (event) => {
      if (event.source === frame.contentWindow && event.data && event.data.corsLabId === id) {
        window.removeEventListener("message", listener);
        frame.remove();
        resolve(event.data.result);
      }
    };
    window.addEventListener("message", listener);
    frame.srcdoc = "<script>window.corsLabProbe = " + window.corsLabProbe.toString() + ";" +
      "window.corsLabProbe(" + inner + ").then((result) => parent.postMessage({ corsLabId: " + JSON.stringify(id) +
      ", result: result }, '*'));<\/script>";
    document.body.appendChild(frame);
  });
};
