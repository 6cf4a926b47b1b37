// Every call to /api/v1 goes through here: it sends the bearer token and asks for one on a 401.

const TOKEN_KEY = "runstream.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let asking = null; // one prompt serves every call waiting on a token

function askForToken(reason) {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  document.getElementById("token-error").textContent = reason;
  input.value = "";
  asking = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const token = input.value.trim();
      if (token) localStorage.setItem(TOKEN_KEY, token);
      asking = null;
      resolve();
    }, { once: true });
  });
  dialog.showModal();
  input.focus();
  return asking;
}

function headers(json) {
  const out = {};
  if (json) out["Content-Type"] = "application/json";
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

/** fetch() with the token; on 401 it asks for a token and tries again. */
export async function authedFetch(path, init = {}) {
  for (;;) {
    const response = await fetch(path, { ...init, headers: { ...headers(init.body !== undefined), ...(init.headers || {}) } });
    if (response.status !== 401) return response;
    const had = localStorage.getItem(TOKEN_KEY);
    await askForToken(had ? "That token was refused. Enter a valid one." : "");
  }
}

/** A JSON call to the API; non-2xx answers raise ApiError with the server's message. */
export async function api(method, path, body) {
  const response = await authedFetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error_code || "ERROR", data?.message || `${response.status} ${response.statusText}`);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);

/** The API renders NaN and infinities as strings, as MLflow does. */
export function num(value) {
  if (value === null || value === undefined) return null;
  return typeof value === "number" ? value : Number(value);
}

/** Run `task` over `items` with at most `limit` in flight. */
export async function pool(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
