// The dashboard's calls to /ui/api/: the proxy token, JSON fetches, and the live event stream.
// The stream is read with fetch() rather than EventSource, which cannot send a Bearer token.

const TOKEN_KEY = "anthroxy.token";
const BASE = "/ui/api/";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  const value = token();
  if (value) out.Authorization = `Bearer ${value}`;
  return out;
}

/** The message of an Anthropic-shaped error body, else the status line. */
async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch {
    // not JSON: the status line says enough
  }
  return new ApiError(response.status, message);
}

export async function getJSON(path) {
  const response = await fetch(BASE + path, { headers: headers(), cache: "no-store" });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function postJSON(path, body) {
  const response = await fetch(BASE + path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
    cache: "no-store",
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Split SSE text into complete events; returns [events, the unfinished rest]. */
export function parseEvents(buffer) {
  const events = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop();
  for (const block of blocks) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // keep-alive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ name, data: data.join("\n") });
  }
  return [events, rest];
}

/**
 * Follow /ui/api/events: ``onEvent(name, data)`` per event, ``onState(state, detail)`` with
 * "live", "reconnecting" (detail: seconds), "unauthorized" or "stopped". Returns a stop function.
 * After a drop it waits (2 s, doubling to 30 s) and connects again; ``onState("live")`` tells the
 * caller to fetch what it missed.
 */
export function follow(onEvent, onState) {
  let controller = null;
  let stopped = false;
  let delay = 2;
  let timer = null;

  async function connect() {
    controller = new AbortController();
    let response;
    try {
      response = await fetch(BASE + "events", {
        headers: headers({ Accept: "text/event-stream" }),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch {
      return retry();
    }
    if (response.status === 401) {
      stopped = true;
      onState("unauthorized");
      return undefined;
    }
    if (!response.ok || !response.body) return retry(response.status === 429 ? 30 : delay);
    delay = 2;
    onState("live");
    await read(response.body.getReader());
    return retry();
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        const [events, rest] = parseEvents(buffer);
        buffer = rest;
        for (const event of events) onEvent(event.name, event.data);
      }
    } catch {
      // the connection dropped or was aborted: retry() decides
    }
  }

  function retry(wait) {
    if (stopped) return;
    const seconds = wait || delay;
    delay = Math.min(delay * 2, 30);
    onState("reconnecting", seconds);
    timer = setTimeout(connect, seconds * 1000);
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
    onState("stopped");
  };
}
