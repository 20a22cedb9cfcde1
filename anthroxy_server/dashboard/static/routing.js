// Routing: what the configuration in force says (tiers, aliases, scenarios, fallbacks, limits,
// providers with masked keys), each value with its source, and the "Reload configuration" button.

import { getJSON, postJSON } from "./api.js";
import { count, fill, h, NONE } from "./format.js";

function table(title, columns, rows, key) {
  const body = rows && rows.length
    ? h("div", { className: "table-wrap" }, h("table", { className: "plain", data: { table: key } },
      h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell, cls]) =>
        h("td", { className: cls || null }, cell(row))))))))
    : h("p", { className: "empty", data: { table: key } }, "None configured.");
  return h("div", { className: "block" }, h("h3", {}, title), body);
}

const source = ["Source", (row) => row.source || NONE, "source"];
const named = [["Name", (row) => row.name, "mono"], ["Target", (row) => row.target, "mono"], source];

function limit(value) {
  return value === null || value === undefined ? NONE : count(value);
}

function render(routing) {
  const reload = routing.reload || {};
  fill("routing-body",
    h("dl", { className: "pairs" },
      h("dt", {}, "Fingerprint"), h("dd", { className: "mono", data: { field: "fingerprint" } }, routing.fingerprint || NONE),
      h("dt", {}, "Files"), h("dd", { className: "mono" }, (routing.sources || []).join(", ") || "none (defaults and environment)"),
      h("dt", {}, "Long context"), h("dd", {}, routing.long_context_threshold
        ? `over ${count(routing.long_context_threshold)} tokens` : NONE),
      h("dt", {}, "Reloads"), h("dd", {}, `${reload.attempts ?? 0} attempted`
        + ((reload.problems || []).length ? ` · last refused: ${reload.problems.join("; ")}` : "")
        + ((reload.restart_needed || []).length ? ` · restart needed for ${reload.restart_needed.join(", ")}` : ""))),
    table("Tiers", named, routing.tiers, "tiers"),
    table("Aliases", named, routing.aliases, "aliases"),
    table("Scenarios", named, routing.scenarios, "scenarios"),
    table("Fallback chains", [["Target", (row) => row.target, "mono"],
      ["Then", (row) => (row.chain || []).join(" → "), "mono"], source], routing.fallbacks, "fallbacks"),
    table("Model limits", [["Model", (row) => row.model, "mono"],
      ["Context", (row) => limit(row.context_window), "num"],
      ["Max output", (row) => limit(row.max_output), "num"], source], routing.limits, "limits"),
    table("Providers", [["Id", (row) => row.id, "mono"], ["API", (row) => row.api, "mono"],
      ["URL", (row) => row.base_url || NONE, "mono wrap"],
      ["Credential", credential, "mono"],
      ["Models", (row) => (row.models || []).join(", ") || NONE, "mono wrap"], source],
    routing.providers, "providers"));
}

// Providers without a key sign in: the column names the login rather than showing "copilot"
// where a key's source would be.
const LOGINS = { copilot: "GitHub login", codex: "Codex login", google: "Google credentials" };

function credential(row) {
  if (row.key) return `${row.key} (${row.key_source || "?"})`;
  return LOGINS[row.key_source] || row.key_source || "none";
}

export async function loadRouting() {
  render(await getJSON("routing"));
}

function showResult(result) {
  const box = document.getElementById("reload-result");
  box.hidden = false;
  if (result.reloaded) {
    box.dataset.state = "ok";
    const changed = (result.changed || []).length ? `changed: ${result.changed.join(", ")}` : "nothing changed";
    fill("reload-result", h("strong", {}, "Reloaded."), ` ${changed}. Fingerprint `,
      h("span", { className: "mono" }, result.fingerprint || NONE));
  } else {
    box.dataset.state = "error";
    fill("reload-result", h("strong", {}, "Reload refused; the configuration in force stays."),
      h("ul", {}, (result.problems || []).map((problem) => h("li", {}, problem))));
  }
}

export function setupReload(report, afterReload) {
  const button = document.getElementById("reload");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      showResult(await postJSON("reload", {}));
      await loadRouting();
      afterReload();
    } catch (error) {
      report(error);
    } finally {
      button.disabled = false;
    }
  });
}
