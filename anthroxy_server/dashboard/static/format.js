// Numbers and times for people, and the one way this page builds DOM: text nodes only.
// Every string the API returns (a model name, an error message) is untrusted, so nothing here
// ever parses HTML.

const NONE = "–";

/** An element with properties (className, title, ...), data-* values and children; strings
 * become text nodes, null and false are skipped. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined) continue;
    if (name === "data") {
      for (const [key, item] of Object.entries(value)) node.dataset[key] = String(item);
    } else if (name.includes("-") || name === "role") {
      node.setAttribute(name, String(value));
    } else {
      node[name] = value;
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of the element with id ``id``. */
export function fill(id, ...children) {
  const node = document.getElementById(id);
  node.replaceChildren();
  append(node, children);
  return node;
}

/** 830 → "830", 1234 → "1.2k", 2_500_000 → "2.5M". */
export function tokens(value) {
  if (value === null || value === undefined) return NONE;
  const abs = Math.abs(value);
  if (abs < 1000) return String(Math.round(value));
  if (abs < 999_950) return trim(value / 1000) + "k";
  if (abs < 999_950_000) return trim(value / 1e6) + "M";
  return trim(value / 1e9) + "G";
}

function trim(value) {
  return value.toFixed(Math.abs(value) < 100 ? 1 : 0).replace(/\.0$/, "");
}

/** 830.4 → "830 ms", 2140 → "2.14 s", 95000 → "95 s". */
export function ms(value) {
  if (value === null || value === undefined) return NONE;
  if (value < 1000) return Math.round(value) + " ms";
  if (value < 10_000) return (value / 1000).toFixed(2) + " s";
  return Math.round(value / 1000) + " s";
}

/** 0.01234 → "$0.0123", 12.5 → "$12.50" (as ``anthroxy usage`` prints costs). */
export function usd(value) {
  if (value === null || value === undefined) return NONE;
  if (value < 1) return "$" + value.toFixed(4);
  return "$" + value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** 1234567 → "1,234,567" (the table behind the chart: the CLI's exact numbers). */
export function count(value) {
  if (value === null || value === undefined) return NONE;
  return Math.round(value).toLocaleString("en-US");
}

/** A usage group's cost as ``anthroxy usage`` prints it (ledger/report.py cost_text). */
export function costText(total) {
  if (total.cost_text) return total.cost_text;
  const paid = total.requests - total.subscription;
  if (paid === 0 && total.requests) return "subscription";
  if (total.cost_usd === null || total.cost_usd === undefined) {
    return total.unknown_cost ? "unknown" : "$0.00";
  }
  const money = usd(total.cost_usd);
  return total.unknown_cost ? `${money} + unknown (${total.unknown_cost} req)` : money;
}

/** Unix seconds → "14:03:27" today, "Dec 3 14:03" otherwise (local time). */
export function clock(seconds) {
  if (seconds === null || seconds === undefined) return NONE;
  const when = new Date(seconds * 1000);
  const time = when.toLocaleTimeString("en-GB", { hour12: false });
  if (when.toDateString() === new Date().toDateString()) return time;
  const day = when.toLocaleDateString("en-US", { month: "short", day: "numeric" });
  return `${day} ${time.slice(0, 5)}`;
}

/** Seconds between now and then as "in 42 min" / "3 h ago". */
export function relative(seconds, now) {
  if (seconds === null || seconds === undefined) return NONE;
  const delta = seconds - now;
  const text = span(Math.abs(delta));
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

/** 42 → "42 s", 3700 → "1 h 1 min", 200000 → "2 d 7 h". */
export function span(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export function percent(value) {
  if (value === null || value === undefined) return NONE;
  return (Math.round(value * 10) / 10).toString() + "%";
}

export { NONE };
