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

/** ChatGPT's windows by their length, as ChatGPT itself names them: "5-hour limit",
 * "weekly limit"; a quota without a window by its name. */
function quotaLabel(quota) {
  const minutes = quota.window_minutes;
  if (!minutes) return QUOTA_NAMES[quota.name] || quota.name;
  if (minutes === 10_080) return "weekly limit";
  if (minutes % 1440 === 0) return `${minutes / 1440}-day limit`;
  if (minutes % 60 === 0) return `${minutes / 60}-hour limit`;
  return `${minutes}-minute limit`;
}

/** A moment as a <time> element: the exact instant in its datetime attribute and tooltip,
 * the text relative ("in 2 h 5 min") when it is within a day, else the date and time. */
function moment(seconds, now) {
  const near = Math.abs(seconds - now) < 86_400;
  return h("time", { dateTime: new Date(seconds * 1000).toISOString(), title: clock(seconds) },
    near ? relative(seconds, now) : clock(seconds));
}

function known(value) {
  return value !== null && value !== undefined;
}

/** A limited quota: its share used as a bar, what is left and when it resets. Unlimited ones
 * are listed on one line by ``account``. */
function quotaBar(quota, now) {
  const used = known(quota.used_percent) ? Math.max(0, Math.min(100, quota.used_percent)) : null;
  const head = h("div", { className: "quota-head" }, h("span", { className: "name" }, quotaLabel(quota)),
    h("span", { className: "value" }, used === null ? NONE : `${percent(quota.used_percent)} used`));
  let bar = null;
  if (used !== null) {
    const fillBar = h("div", { className: "fill" });
    fillBar.style.width = `${used}%`; // CSSOM, which the page's CSP allows (no style attribute)
    bar = h("div", { className: "bar", role: "img", "aria-label": `${percent(used)} used`,
      data: { level: used >= 90 ? "high" : used >= 70 ? "mid" : "low" } }, fillBar);
  }
  const left = known(quota.remaining)
    ? h("span", { data: { field: "left" } },
      `${quota.remaining}${quota.entitlement ? ` of ${quota.entitlement}` : ""} left`)
    : null;
  const resets = known(quota.resets_at)
    ? h("span", { data: { field: "resets" } }, "resets ", moment(quota.resets_at, now))
    : null;
  return h("div", { className: "quota", data: { quota: quota.name } }, head, bar,
    left || resets ? h("div", { className: "muted small" }, left, left && resets ? " · " : null, resets) : null);
}

// The gateway renews both tokens by itself (Copilot's from the GitHub login, ChatGPT's with the
// refresh token), so an expiry is news only when renewing fails: the line says so.
function expiry(sub, now) {
  if (!known(sub.token_expires_at)) return null;
  return h("p", { className: "muted small expiry" },
    h("span", { data: { field: "token-expiry" } },
      sub.token_expires_at < now ? "Token expired " : "Token expires ",
      moment(sub.token_expires_at, now)),
    " · renewed automatically");
}

function account(sub, now, title) {
  const quotas = sub.quota || [];
  const limited = quotas.filter((quota) => !quota.unlimited);
  const unlimited = quotas.filter((quota) => quota.unlimited);
  const plan = sub.plan ? h("span", { className: "pill small plan", data: { field: "plan" } }, sub.plan) : null;
  return h("div", { className: "account", data: { account: sub.account || "" } },
    h("div", { className: "sub-head" }, title, plan ? " " : null, plan),
    expiry(sub, now),
    quotas.length ? limited.map((quota) => quotaBar(quota, now))
      : h("p", { className: "muted small" }, "No quota seen yet."),
    // Unlimited quotas (Copilot's chat and completions on a paid plan) share one line, without
    // the reset date GitHub gives them too: it changes nothing.
    unlimited.length ? h("p", { className: "muted small", data: { field: "unlimited" } },
      `${unlimited.map(quotaLabel).join(", ")}: unlimited`) : null,
    sub.quota_seen_at ? h("p", { className: "muted small", data: { field: "quota-seen" } }, seen(sub, now))
      : null);
}

/** When and where the numbers were read: GitHub is asked (every 5 min at most); ChatGPT's
 * come with the backend's answers, so they are as old as the last request. */
function seen(sub, now) {
  const when = now - sub.quota_seen_at < 5 ? "just now" : relative(sub.quota_seen_at, now);
  return sub.kind === "chatgpt" ? `Quota as of the last answer, ${when}` : `Quota read ${when}`;
}

function subscription(sub, now) {
  if (!sub) return null;
  // The card's title names the provider already: the head says what this part is; with
  // several accounts, each has its own head under it.
  const props = { className: "subscription", data: { field: "subscription", kind: sub.kind } };
  const named = (item) => h("strong", { data: { field: "account" } }, item.account || "default login");
  if (sub.accounts && sub.accounts.length > 1) {
    return h("div", props, h("div", { className: "sub-head" }, h("strong", {}, "Subscription"),
      ` · ${sub.accounts.length} accounts, last used: ${sub.account || "default login"}`),
    sub.accounts.map((item) => account(item, now, named(item))));
  }
  const title = h("strong", {}, "Subscription", sub.account ? ` · ${sub.account}` : "");
  return h("div", props, account(sub, now, title));
}

function card(provider, now, openRequest) {
  const lat = provider.latency_ms || {};
  return h("article", { className: "card", data: { provider: provider.id } },
    h("header", { className: "card-head" },
      h("div", {}, h("h3", {}, provider.name || provider.id),
        h("div", { className: "muted small mono" }, `${provider.id} · ${provider.api}`)),
      breaker(provider.breaker || { state: "closed" }, now)),
    // Under the head, not beside the breaker badge: the whole card's width for the URL.
    provider.base_url
      ? h("div", { className: "muted small mono url", title: provider.base_url }, provider.base_url) : null,
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
