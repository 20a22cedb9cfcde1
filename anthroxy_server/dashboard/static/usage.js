// Usage: tokens or estimated cost per day for 30 days, stacked by model or provider (Chart.js),
// and the table behind it: the rows `anthroxy usage --since 30d --by model` prints.

import { getJSON } from "./api.js";
import { costText, count, fill, h, tokens, usd } from "./format.js";

const COLORS = ["#3867d6", "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#0fb9b1", "#fa8231",
  "#4b6584", "#a5b1c2"];
const DAYS = 30;

function numberCells(total) {
  const ttft = total.avg_ttft_ms === null || total.avg_ttft_ms === undefined ? "-" : count(total.avg_ttft_ms);
  return [total.requests, total.errors, total.input_tokens, total.output_tokens,
    total.cache_read_tokens, total.cache_write_tokens].map((n) => h("td", { className: "num" }, count(n)))
    .concat([h("td", { className: "num" }, ttft), h("td", { className: "num" }, costText(total))]);
}

function tableRow(total, tag) {
  return h("tr", { data: { key: total.key } }, h(tag, { scope: "row", className: "mono" }, total.key),
    ...numberCells(total));
}

export class Usage {
  constructor(report) {
    this.report = report;
    this.by = "model";
    this.measure = "tokens";
    this.answer = null;
    this.chart = null;
    for (const button of document.querySelectorAll("[data-by]")) {
      button.addEventListener("click", () => this.choose("by", button.dataset.by));
    }
    for (const button of document.querySelectorAll("[data-measure]")) {
      button.addEventListener("click", () => this.choose("measure", button.dataset.measure));
    }
  }

  choose(what, value) {
    this[what] = value;
    const attr = what === "by" ? "data-by" : "data-measure";
    for (const button of document.querySelectorAll(`[${attr}]`)) {
      button.setAttribute("aria-pressed", String(button.getAttribute(attr) === value));
    }
    if (what === "by") this.load();
    else this.draw();
  }

  async load() {
    try {
      this.answer = await getJSON(`usage?days=${DAYS}&by=${this.by}`);
    } catch (error) {
      this.report(error);
      return;
    }
    this.renderTable();
    this.draw();
  }

  renderTable() {
    const answer = this.answer;
    document.getElementById("usage-key").textContent = this.by === "model" ? "Model" : "Provider";
    const table = answer.table || [];
    const empty = document.getElementById("usage-empty");
    const nothing = !answer.ledger || table.length === 0;
    empty.hidden = !nothing;
    empty.textContent = !answer.ledger
      ? "Usage is not recorded: the gateway runs without a state directory for its ledger."
      : "No requests in the last 30 days.";
    document.getElementById("usage-table").hidden = nothing;
    document.getElementById("usage-chart-box").hidden = nothing;
    fill("usage-total", nothing ? null : [
      h("span", {}, "Total: "), h("strong", { data: { field: "cost" } }, answer.cost_text || costText(answer.total)),
      ` · ${tokens(answer.total.input_tokens + answer.total.output_tokens)} tokens · `,
      `${count(answer.total.requests)} ${answer.total.requests === 1 ? "request" : "requests"}`]);
    fill("usage-body", table.map((total) => tableRow(total, "th")));
    fill("usage-foot", nothing ? null : tableRow({ ...answer.total, cost_text: answer.cost_text }, "th"));
  }

  draw() {
    const answer = this.answer;
    if (!answer || !answer.ledger || !(answer.table || []).length || !window.Chart) return;
    const measure = this.measure;
    const datasets = (answer.series || []).map((series, index) => ({
      label: series.key,
      data: (series[measure] || []).map((value) => value ?? 0),
      backgroundColor: COLORS[index % COLORS.length],
      stack: "all",
    }));
    const labels = (answer.days || []).map((day) => day.slice(5));
    const format = measure === "tokens" ? tokens : usd;
    // Axis and grid colours from the page's own (light or dark) palette.
    const style = getComputedStyle(document.documentElement);
    window.Chart.defaults.color = style.getPropertyValue("--muted").trim() || "#666";
    window.Chart.defaults.borderColor = style.getPropertyValue("--line").trim() || "#ddd";
    if (this.chart) this.chart.destroy();
    this.chart = new window.Chart(document.getElementById("usage-chart"), {
      type: "bar",
      data: { labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { autoSkip: true, maxRotation: 0 } },
          // Whole tokens only: an empty chart must not label its axis 0.1, 0.2, ... as "0".
          y: { stacked: true, beginAtZero: true, suggestedMax: measure === "tokens" ? 10 : 0.01,
            ticks: { precision: measure === "tokens" ? 0 : 4, callback: (value) => format(value) } },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? answer.days[items[0].dataIndex] : ""),
              label: (item) => `${item.dataset.label}: ${format(item.raw)}`,
            },
          },
        },
      },
    });
  }
}
