// Health: one card per provider: breaker, last error, latency over the last hour, credentials,
// and a subscription's quota and token expiry when the API knows them.

import { clock, fill, h, ms, percent, relative, span, NONE } from "./format.js";

const BREAKER_TEXT = { closed: "closed", half_open: "half open", open: "open" };

function stat(label, value, key) {
  return h("div", { className: "stat", data: { stat: key } }, h("span", { className: "label" }, label),
    h("span", { className: "value" }, value));
}

function breaker(state, now) {
  const text = BREAKER_TEXT[state.state] || state.state;
  const retry = state.state !== "closed" && state.retry_in_s > 0 ? ` · retry in ${span(state.retry_in_s)}` : "";
  const badge = h("span", { className: "pill", data: { state: state.state, field: "breaker" } },
    `breaker ${text}${retry}`);
  if (state.state === "open" && state.open_until) {
    badge.title = `open until ${state.open_until}`;
  }
  return badge;
}

function lastError(error, openRequest) {
  if (!error) return h("p", { className: "ok-line", data: { field: "last-error" } }, "No error.");
  const link = error.request_id
    ? h("button", { type: "button", className: "link", onclick: () => openRequest(error.request_id) },
      error.request_id)
    : null;
  return h("div", { className: "last-error", data: { field: "last-error" } },
    h("div", { className: "error-head" }, `Last error ${clock(error.time)} · `,
      h("strong", {}, `${error.status ?? ""} ${error.type ?? ""}`.trim()), link ? " · " : null, link),
    h("p", { className: "message" }, error.message || NONE));
}

function credentials(list, now) {
  if (!list || !list.length) return null;
  return h("ul", { className: "credentials" }, list.map((cred) =>
    h("li", { data: { credential: cred.label } },
      h("span", { className: "mono" }, cred.label), " ",
      h("span", { className: "pill small", data: { state: cred.state } }, cred.state),
      cred.rest_until ? h("span", { className: "muted" }, ` back ${relative(cred.rest_until, now)}`) : null)));
}

// Quota names as the providers send them, in words (docs/providers/copilot.md, chatgpt.md).
const QUOTA_NAMES = {
  premium_interactions: "premium requests",
  chat: "chat",
  completions: "completions",
  primary: "short window",
  secondary: "long window",
};

function quotaLabel(quota) {
  const name = QUOTA_NAMES[quota.name] || quota.name;
  return quota.window_minutes ? `${name} (${span(quota.window_minutes * 60)})` : name;
}

function quotaBar(quota) {
  const head = h("div", { className: "quota-head" }, h("span", {}, quotaLabel(quota)),
    h("span", { className: "value" }, quota.unlimited ? "unlimited"
      : quota.used_percent === null || quota.used_percent === undefined ? NONE
        : `${percent(quota.used_percent)} used`));
  const left = quota.remaining !== null && quota.remaining !== undefined && !quota.unlimited
    ? `${quota.remaining}${quota.entitlement ? ` of ${quota.entitlement}` : ""} left`
    : null;
  const notes = [left, quota.resets_at ? `resets ${clock(quota.resets_at)}` : null].filter(Boolean);
  let bar = null;
  if (!quota.unlimited && quota.used_percent !== null && quota.used_percent !== undefined) {
    const used = Math.max(0, Math.min(100, quota.used_percent));
    const fillBar = h("div", { className: "fill" });
    fillBar.style.width = `${used}%`; // CSSOM, which the page's CSP allows (no style attribute)
    bar = h("div", { className: "bar", role: "img", "aria-label": `${percent(used)} used`,
      data: { level: used >= 90 ? "high" : used >= 70 ? "mid" : "low" } }, fillBar);
  }
  return h("div", { className: "quota", data: { quota: quota.name } }, head, bar,
    notes.length ? h("div", { className: "muted small" }, notes.join(" · ")) : null);
}

function account(sub, now, title) {
  const expiry = sub.token_expires_at
    ? h("span", { data: { field: "token-expiry" } },
      sub.token_expires_at < now ? "token expired " : "token expires ", relative(sub.token_expires_at, now))
    : null;
  const quotas = sub.quota || [];
  return h("div", { className: "account", data: { account: sub.account || "" } },
    h("div", { className: "sub-head" }, title,
      [sub.account, sub.plan].filter(Boolean).map((text) => ` · ${text}`).join(""),
      expiry ? " · " : null, expiry),
    quotas.length ? quotas.map(quotaBar) : h("p", { className: "muted small" }, "No quota seen yet."),
    sub.quota_seen_at ? h("p", { className: "muted small" }, `quota seen ${relative(sub.quota_seen_at, now)}`) : null);
}

function subscription(sub, now) {
  if (!sub) return null;
  const title = h("strong", {}, `${sub.kind === "chatgpt" ? "ChatGPT" : sub.kind === "copilot" ? "Copilot" : sub.kind} subscription`);
  const accounts = sub.accounts && sub.accounts.length > 1 ? sub.accounts : [sub];
  return h("div", { className: "subscription", data: { field: "subscription" } },
    accounts.map((item, index) => account(item, now, index === 0 ? title : h("strong", {}, "account"))));
}

function card(provider, now, openRequest) {
  const lat = provider.latency_ms || {};
  return h("article", { className: "card", data: { provider: provider.id } },
    h("header", { className: "card-head" },
      h("div", {}, h("h3", {}, provider.name || provider.id),
        h("div", { className: "muted small mono" }, `${provider.id} · ${provider.api}`),
        provider.base_url ? h("div", { className: "muted small mono url" }, provider.base_url) : null),
      breaker(provider.breaker || { state: "closed" }, now)),
    h("div", { className: "stats" },
      stat("requests 1 h", String(provider.requests_1h ?? 0), "requests"),
      stat("errors 1 h", String(provider.errors_1h ?? 0), "errors"),
      stat("p50", ms(lat.p50), "p50"),
      stat("p95", ms(lat.p95), "p95"),
      stat("TTFT p50", ms(lat.ttft_p50), "ttft_p50"),
      stat("TTFT p95", ms(lat.ttft_p95), "ttft_p95")),
    lastError(provider.last_error, openRequest),
    credentials(provider.credentials, now),
    subscription(provider.subscription, now));
}

export function renderHealth(health, now, openRequest) {
  const providers = health.providers || [];
  if (!providers.length) {
    fill("health-list", h("p", { className: "empty" }, "No providers configured."));
    return;
  }
  fill("health-list", providers.map((provider) => card(provider, now, openRequest)));
}
