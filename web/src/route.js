// The URL hash holds the view and its state, so a view can be shared: #/runs?e=<ids>&f=<filter>&...

export function parseHash() {
  const raw = location.hash.slice(1) || "/";
  const at = raw.indexOf("?");
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? "" : raw.slice(at + 1));
  return { path, parts: path.split("/").filter(Boolean), params };
}

export function href(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0)) {
      q.set(k, Array.isArray(v) ? v.join(",") : String(v));
    }
  }
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}

/** Record state in the URL without re-rendering the view. */
export function replaceState(path, params) {
  history.replaceState(null, "", href(path, params));
}

export const list = (params, key) => (params.get(key) || "").split(",").filter(Boolean);
