// The dashboard's entry point: asks for the token when the API wants one, then shows the four
// sections and keeps them current (health every 10 s, traffic live, usage every minute).

import { ApiError, getJSON, setToken, token } from "./api.js";
import { fill, h, span } from "./format.js";
import { renderHealth } from "./health.js";
import { loadRouting, setupReload } from "./routing.js";
import { Traffic } from "./traffic.js";
import { Usage } from "./usage.js";

const HEALTH_SECONDS = 10;
const USAGE_SECONDS = 60;

const state = { timers: [], traffic: null, usage: null, started: false };

function fact(term, value, title) {
  return [h("dt", {}, term), h("dd", { title: title || null }, value)];
}

function showOverview(overview) {
  const status = document.getElementById("status");
  status.dataset.state = overview.status;
  status.textContent = overview.status;
  fill(
    "overview",
    fact("version", overview.version),
    fact("up", span(overview.uptime_s)),
    fact("pid", String(overview.pid)),
    fact("config", (overview.fingerprint || "").slice(0, 12), overview.fingerprint),
    fact("ledger", overview.ledger ? "on" : "off"),
    fact("body log", overview.body_log ? "on" : "off"),
    overview.workers ? fact("workers", `${overview.workers} (live list: this worker)`) : null,
  );
}

function showFatal(message) {
  const banner = document.getElementById("fatal");
  banner.textContent = message;
  banner.hidden = !message;
}

/** The token form; ``refused``: the token kept was wrong. */
function askToken(refused) {
  stop();
  setToken("");
  document.getElementById("sections").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = refused
    ? "That token was refused; check [server] auth_token."
    : "";
  const status = document.getElementById("status");
  status.dataset.state = "locked";
  status.textContent = "token needed";
  document.getElementById("token-input").focus();
}

function stop() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  if (state.traffic) state.traffic.stop();
  state.started = false;
}

/** Errors of any section: 401 means the token went stale, the rest go in the banner. */
export function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    askToken(Boolean(token()));
    return;
  }
  showFatal(error instanceof ApiError ? error.message : `Cannot reach the gateway: ${error.message}`);
}

async function refreshHealth() {
  try {
    const [overview, health] = await Promise.all([getJSON("overview"), getJSON("health")]);
    showOverview(overview);
    renderHealth(health, overview.now, (id) => state.traffic.open(id));
    showFatal("");
  } catch (error) {
    report(error);
  }
}

async function boot() {
  let overview;
  try {
    overview = await getJSON("overview");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) askToken(Boolean(token()));
    else report(error);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("sections").hidden = false;
  showOverview(overview);
  start(overview);
}

function start(overview) {
  if (state.started) return;
  state.started = true;
  state.traffic = state.traffic || new Traffic(report);
  state.usage = state.usage || new Usage(report);
  state.traffic.start(overview);
  // A link to a section (/ui#usage) lands there once the sections have their height.
  Promise.all([state.usage.load(), refreshHealth(), loadRouting().catch(report)]).then(() => {
    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target) target.scrollIntoView();
  });
  state.timers.push(setInterval(refreshHealth, HEALTH_SECONDS * 1000));
  state.timers.push(setInterval(() => state.usage.load(), USAGE_SECONDS * 1000));
}

function setupLogin() {
  document.getElementById("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token-input");
    setToken(input.value.trim());
    input.value = "";
    boot();
  });
}

setupLogin();
setupReload(report, () => refreshHealth());
boot();
