// Traffic: the last requests, newest first, kept current from /ui/api/events; a row opens the
// request's details (the route and why, the attempts, the error as the client saw it, bodies).

import { ApiError, follow, getJSON } from "./api.js";
import { clock, count, fill, h, ms, tokens, usd, NONE } from "./format.js";

const KEPT = 100;

function statusCell(summary) {
  const failed = summary.status >= 400 || summary.stream_error;
  const text = summary.stream_error ? `${summary.status} · ${summary.stream_error}` : String(summary.status);
  return h("td", { data: { label: "Status", field: "status" } },
    h("span", { className: "pill small", data: { state: failed ? "error" : "ok" } }, text));
}

function routeText(summary) {
  const route = summary.route || [summary.provider, summary.upstream_model].filter(Boolean).join("/");
  return route || NONE;
}

// A request of the proxy's earlier run, read back from the usage ledger at start.
const PAST_TITLE = "Served before the proxy last started: read back from the usage ledger";

function timeCell(summary) {
  const marker = summary.from_ledger
    ? [" ", h("span", { className: "past small", title: PAST_TITLE, data: { field: "past" } }, "before restart")]
    : null;
  return h("td", { data: { label: "Time", field: "time" } }, clock(summary.time), marker);
}

function row(summary, onOpen) {
  const data = summary.from_ledger ? { id: summary.id, past: "true" } : { id: summary.id };
  const tr = h("tr", { tabIndex: 0, data, title: "Show this request's details" },
    timeCell(summary),
    h("td", { className: "route", data: { label: "Model → route", field: "route" } },
      h("span", { className: "mono" }, summary.client_model || NONE), " → ",
      h("span", { className: "mono" }, routeText(summary))),
    statusCell(summary),
    h("td", { className: "num", data: { label: "Tokens in / out", field: "tokens" } },
      `${tokens(summary.input_tokens)} / ${tokens(summary.output_tokens)}`),
    h("td", { className: "num", data: { label: "TTFT", field: "ttft" } }, ms(summary.ttft_ms)),
    h("td", { className: "num", data: { label: "Total", field: "total" } }, ms(summary.total_ms)),
    h("td", { className: "num", data: { label: "Failed attempts", field: "fallbacks" } },
      String(summary.fallback_attempts ?? 0)));
  tr.addEventListener("click", () => onOpen(summary.id));
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onOpen(summary.id);
    }
  });
  return tr;
}

function pair(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

function pretty(value) {
  return h("pre", { className: "json" }, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

function body(value, setting) {
  if (value === null || value === undefined) {
    return h("p", { className: "muted" }, `Not logged ([server] ${setting} is off).`);
  }
  return pretty(value);
}

function attemptsTable(attempts) {
  if (!attempts || !attempts.length) return h("p", { className: "muted" }, "No upstream attempt.");
  return h("div", { className: "table-wrap" }, h("table", { className: "attempts" },
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Target"), h("th", {}, "Status"),
      h("th", {}, "Outcome"), h("th", {}, "Message"))),
    h("tbody", {}, attempts.map((attempt, index) => h("tr", {},
      h("td", {}, String(index + 1)), h("td", { className: "mono" }, attempt.target),
      h("td", {}, attempt.status === null || attempt.status === undefined ? NONE : String(attempt.status)),
      h("td", { data: { field: "outcome" } }, attempt.outcome || NONE),
      // A failed attempt's message (redacted by the gateway); its error type ends the outcome.
      h("td", { className: "wrap", data: { field: "message" } }, attempt.message || NONE))))));
}

function facts(detail) {
  const cacheTokens = [detail.cache_read_tokens, detail.cache_write_tokens];
  const stream = detail.stream === null || detail.stream === undefined ? NONE : detail.stream ? "yes" : "no";
  return h("dl", { className: "pairs" },
    pair("Time", clock(detail.time)),
    pair("Request", `${detail.method || "POST"} ${detail.path || ""}`),
    pair("Client model", detail.client_model || NONE),
    pair("Route", routeText(detail)),
    pair("Rule", detail.rule || NONE),
    pair("Status", detail.stream_error ? `${detail.status} · ${detail.stream_error}` : String(detail.status)),
    pair("Stream", stream),
    pair("Tokens", `${count(detail.input_tokens)} in · ${count(detail.output_tokens)} out`),
    cacheTokens.some((n) => n) ? pair("Cache", `${count(cacheTokens[0])} read · ${count(cacheTokens[1])} written`) : null,
    pair("TTFT", ms(detail.ttft_ms)),
    pair("Total", ms(detail.total_ms)),
    pair("Failed attempts", String(detail.fallback_attempts ?? 0)),
    pair("Credential", detail.credential || NONE),
    pair("Cost", usd(detail.cost_usd)));
}

function detailsBody(detail) {
  if (detail.note) {
    // An earlier run's request: the ledger kept no reason, attempts, error body or bodies.
    return [h("p", { className: "note", data: { field: "note" } }, detail.note), facts(detail)];
  }
  const bodies = detail.body_logging && detail.bodies
    ? [h("h3", {}, "Request body (keys masked)"), body(detail.bodies.request, "log_request_body"),
      h("h3", {}, "Reply"), body(detail.bodies.reply, "log_response_body")]
    : [h("h3", {}, "Bodies"), h("p", { className: "muted", data: { field: "bodies" } }, detail.body_logging
      ? "No longer kept: the gateway keeps the bodies of its newest requests only."
      : "Not logged: body logging is off ([server] log_request_body, log_response_body).")];
  return [
    h("p", { className: "why", data: { field: "why" } }, detail.why || NONE),
    facts(detail),
    h("h3", {}, "Attempts"),
    attemptsTable(detail.attempts),
    h("h3", {}, "Error as the client saw it"),
    detail.error
      ? h("div", { data: { field: "error" } }, h("p", {}, `HTTP ${detail.error.status}`), pretty(detail.error.body))
      : h("p", { className: "muted", data: { field: "error" } }, "None: the client got its answer."),
    ...bodies,
  ];
}

export class Traffic {
  constructor(report) {
    this.report = report;
    this.rows = [];
    this.stopFollow = null;
    const dialog = document.getElementById("details");
    document.getElementById("details-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
  }

  async start(overview) {
    const note = document.getElementById("traffic-note");
    note.hidden = !overview.workers;
    note.textContent = overview.workers
      ? `The gateway runs ${overview.workers} workers: this list shows the requests of the one that answered this page.`
      : "";
    this.load(); // the list shows even when the live stream cannot open (20 listeners already)
    this.stopFollow = follow((name, data) => this.event(name, data), (live, detail) => this.live(live, detail));
  }

  stop() {
    if (this.stopFollow) this.stopFollow();
    this.stopFollow = null;
  }

  async load() {
    try {
      const answer = await getJSON(`requests?limit=${KEPT}`);
      this.rows = answer.requests || [];
      this.render();
    } catch (error) {
      this.report(error);
    }
  }

  live(state, detail) {
    const badge = document.getElementById("live");
    badge.dataset.state = state;
    if (state === "live") {
      badge.textContent = "live";
      this.load(); // what finished while the stream was away
    } else if (state === "reconnecting") {
      badge.textContent = `reconnecting in ${detail} s`;
    } else if (state === "unauthorized") {
      this.report(new ApiError(401, "token needed"));
    } else {
      badge.textContent = "stopped";
    }
  }

  event(name, data) {
    if (name !== "request") return;
    let summary;
    try {
      summary = JSON.parse(data);
    } catch {
      return;
    }
    this.rows = [summary, ...this.rows.filter((item) => item.id !== summary.id)].slice(0, KEPT);
    this.render();
  }

  render() {
    document.getElementById("requests-empty").hidden = this.rows.length > 0;
    document.getElementById("requests").hidden = this.rows.length === 0;
    fill("requests-body", this.rows.map((summary) => row(summary, (id) => this.open(id))));
  }

  async open(id) {
    const dialog = document.getElementById("details");
    document.getElementById("details-title").textContent = `Request ${id}`;
    fill("details-body", h("p", { className: "muted" }, "Loading…"));
    if (!dialog.open) dialog.showModal();
    try {
      const detail = await getJSON(`requests/${encodeURIComponent(id)}`);
      fill("details-body", detailsBody(detail));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        dialog.close();
        this.report(error);
        return;
      }
      fill("details-body", h("p", { className: "error" }, error.message));
    }
  }
}
