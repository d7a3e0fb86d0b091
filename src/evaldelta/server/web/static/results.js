// One card per feedback key: a diverging bar chart and a table of improved / regressed
// counts per comparison experiment, statistics when the stream carries them, or the
// key's in-band error.

import { fill, h, pValue, signed } from "./dom.js";

// The p-value shown first: the sign test's, which the stream's end event also gives
// Holm-adjusted across keys; a generic `p_value` or the Wilcoxon test's otherwise.
const P_FIELDS = [
  ["sign_test_p", "sign test"],
  ["p_value", ""],
  ["wilcoxon_p", "Wilcoxon"],
];

/**
 * @typedef {{id: string, name: string}} Experiment
 * @typedef {(key: string, session: string, kind: string, from: HTMLElement) => void} OpenCell
 */

export class KeyCard {
  /**
   * @param {string} key
   * @param {{comparisons: Experiment[], baseline: Experiment, onOpen: OpenCell}} context
   */
  constructor(key, context) {
    this.key = key;
    this.context = context;
    this.headingId = `key-${cssSafe(key)}-${Math.random().toString(36).slice(2, 8)}`;
    this.status = h("span", { class: "pill" }, "waiting…");
    this.body = h("div", { class: "key-body" }, h("p", { class: "hint" }, "Waiting for this key…"));
    this.element = h(
      "article",
      { class: "key-card pending", dataset: { key }, "aria-labelledby": this.headingId },
      h("header", { class: "key-head" }, h("h3", { id: this.headingId }, key), this.status),
      this.body,
    );
  }

  /** The stream ended or failed before this key arrived. */
  setMissing(message) {
    this.element.className = "key-card missing";
    this.status.textContent = "not computed";
    fill(this.body, h("p", { class: "hint" }, message));
  }

  /** The key's in-band error, shown beside its name. */
  setError(message) {
    this.element.className = "key-card failed";
    this.status.textContent = "failed";
    fill(
      this.body,
      h(
        "p",
        { class: "key-error", dataset: { role: "key-error" } },
        h("strong", {}, "Could not compute this key: "),
        message,
      ),
    );
  }

  /** @param {Record<string, {improved_examples: string[], regressed_examples: string[], stats?: object}>} deltas */
  setResult(deltas) {
    this.deltas = deltas;
    this.render();
  }

  /** Holm-adjusted p-values (session id -> p) that arrive with the stream's end. */
  setAdjusted(session, p) {
    this.adjusted = { ...this.adjusted, [session]: p };
    if (this.deltas) this.render();
  }

  render() {
    const deltas = this.deltas;
    this.element.className = "key-card done";
    this.status.textContent = "done";
    const rows = this.context.comparisons.map((exp) => {
      const entry = deltas[exp.id] ?? {};
      return {
        exp,
        improved: entry.improved_examples ?? [],
        regressed: entry.regressed_examples ?? [],
        stats: entry.stats && typeof entry.stats === "object" ? entry.stats : null,
        adjusted: this.adjusted?.[exp.id],
      };
    });
    fill(this.body, this.chart(rows), this.table(rows));
  }

  chart(rows) {
    const scale = Math.max(1, ...rows.flatMap((r) => [r.improved.length, r.regressed.length]));
    const bar = (row, kind, count) =>
      h("div", {
        class: count > 0 ? `bar ${kind} clickable` : `bar ${kind}`,
        style: { width: `${(count / scale) * 100}%` },
        title: `${count} ${kind}`,
        onclick: count > 0 ? (e) => this.context.onOpen(this.key, row.exp.id, kind, e.currentTarget) : null,
      });
    return h(
      "figure",
      { class: "chart", "aria-hidden": "true" },
      this.context.pairwise
        ? h("div", { class: "chart-axis" }, h("span", {}, "◀ baseline preferred"), h("span", {}, "preferred ▶"))
        : h("div", { class: "chart-axis" }, h("span", {}, "◀ regressed"), h("span", {}, "improved ▶")),
      rows.map((row) =>
        h(
          "div",
          { class: "bar-row", dataset: { exp: row.exp.id } },
          h("span", { class: "bar-label", title: row.exp.name }, row.exp.name),
          h(
            "div",
            { class: "bar-half neg" },
            h("span", { class: "bar-count" }, row.regressed.length),
            h("div", { class: "bar-track" }, bar(row, "regressed", row.regressed.length)),
          ),
          h(
            "div",
            { class: "bar-half pos" },
            h("div", { class: "bar-track" }, bar(row, "improved", row.improved.length)),
            h("span", { class: "bar-count" }, row.improved.length),
          ),
        ),
      ),
    );
  }

  /** Wins, ties and losses of each comparison, its win rate and the binomial test. */
  pairwiseTable(rows) {
    const baseline = this.context.baseline.name;
    const head = h(
      "tr",
      {},
      h("th", { scope: "col" }, "Experiment"),
      h("th", { scope: "col", class: "num" }, "Wins"),
      h("th", { scope: "col", class: "num" }, "Ties"),
      h("th", { scope: "col", class: "num" }, "Losses"),
      h("th", { scope: "col", class: "num" }, "Win rate [95% CI]"),
      h("th", { scope: "col", class: "num" }, "p-value"),
    );
    const body = rows.map((row) => {
      const p = row.stats?.pairwise ?? {};
      return h(
        "tr",
        { dataset: { exp: row.exp.id } },
        h("th", { scope: "row", title: row.exp.id }, row.exp.name),
        h("td", { class: "num", dataset: { role: "wins" } }, this.cell(row, "improved")),
        h("td", { class: "num", dataset: { role: "ties" } }, typeof p.ties === "number" ? `= ${p.ties}` : "—"),
        h("td", { class: "num", dataset: { role: "losses" } }, this.cell(row, "regressed")),
        h("td", { class: "num", dataset: { role: "win-rate" } }, winRate(p)),
        h("td", { class: "num", dataset: { role: "p-value" } }, binomial(p, row.adjusted)),
      );
    });
    return h(
      "div",
      { class: "table-wrap", role: "region", tabindex: "0", "aria-label": `${this.key}: wins, ties and losses per experiment` },
      h(
        "table",
        { class: "pairwise" },
        h("caption", {}, `“${this.key}”: examples each experiment won, tied or lost against baseline “${baseline}” (pairwise)`),
        h("thead", {}, head),
        h("tbody", {}, body),
      ),
    );
  }

  table(rows) {
    if (this.context.pairwise && rows.some((r) => r.stats?.pairwise)) return this.pairwiseTable(rows);
    const withStats = rows.some((r) => r.stats);
    const baseline = this.context.baseline.name;
    const head = h(
      "tr",
      {},
      h("th", { scope: "col" }, "Experiment"),
      h("th", { scope: "col", class: "num" }, "Improved"),
      h("th", { scope: "col", class: "num" }, "Regressed"),
      h("th", { scope: "col", class: "num" }, "Net"),
      withStats && h("th", { scope: "col", class: "num" }, "Mean Δ [95% CI]"),
      withStats && h("th", { scope: "col", class: "num" }, "p-value"),
    );
    const body = rows.map((row) =>
      h(
        "tr",
        { dataset: { exp: row.exp.id } },
        h("th", { scope: "row", title: row.exp.id }, row.exp.name),
        h("td", { class: "num" }, this.cell(row, "improved")),
        h("td", { class: "num" }, this.cell(row, "regressed")),
        h("td", { class: "num", dataset: { role: "net" } }, signed(row.improved.length - row.regressed.length)),
        withStats && h("td", { class: "num", dataset: { role: "mean-delta" } }, meanDelta(row.stats)),
        withStats && h("td", { class: "num", dataset: { role: "p-value" } }, pText(row.stats, row.adjusted)),
      ),
    );
    return h(
      "div",
      { class: "table-wrap", role: "region", tabindex: "0", "aria-label": `${this.key}: counts per experiment` },
      h(
        "table",
        {},
        h("caption", {}, `“${this.key}”: examples that improved or regressed against baseline “${baseline}”`),
        h("thead", {}, head),
        h("tbody", {}, body),
      ),
    );
  }

  cell(row, kind) {
    const ids = kind === "improved" ? row.improved : row.regressed;
    const text = `${kind === "improved" ? "▲" : "▼"} ${ids.length}`;
    const word = this.context.pairwise ? (kind === "improved" ? "won" : "lost") : kind;
    if (ids.length === 0) return h("span", { class: `count ${kind} zero`, dataset: { kind, count: "0" } }, text);
    return h(
      "button",
      {
        type: "button",
        class: `count ${kind}`,
        dataset: { kind, count: String(ids.length) },
        "aria-label": `${ids.length} ${word} in “${row.exp.name}”: list the examples`,
        onclick: (e) => this.context.onOpen(this.key, row.exp.id, kind, e.currentTarget),
      },
      text,
    );
  }
}

function winRate(p) {
  if (typeof p.win_rate !== "number") return "—";
  const pct = (x) => `${Math.round(x * 100)}%`;
  const interval =
    typeof p.win_rate_ci_low === "number" ? ` [${pct(p.win_rate_ci_low)}, ${pct(p.win_rate_ci_high)}]` : "";
  return [pct(p.win_rate), interval && h("span", { class: "sub" }, interval)];
}

function binomial(p, adjusted) {
  if (typeof p.p_value !== "number") return "—";
  const notes = ["exact binomial, ties left out"];
  if (typeof adjusted === "number") notes.push(`Holm across keys ${pValue(adjusted)}`);
  return [pValue(p.p_value), " ", h("span", { class: "sub" }, `(${notes.join("; ")})`)];
}

function meanDelta(stats) {
  if (!stats || typeof stats.mean_delta !== "number") return "—";
  const notes = [];
  if (typeof stats.ci_low === "number" && typeof stats.ci_high === "number") {
    notes.push(`[${signed(stats.ci_low)}, ${signed(stats.ci_high)}]`);
  }
  if (typeof stats.n_paired === "number") notes.push(`${stats.n_paired} pairs`);
  return [signed(stats.mean_delta), notes.length > 0 && " ", notes.length > 0 && h("span", { class: "sub" }, notes.join(" · "))];
}

function pText(stats, adjusted) {
  if (!stats) return "—";
  const found = P_FIELDS.find(([name]) => typeof stats[name] === "number");
  if (!found) return "—";
  const [name, test] = found;
  const notes = [test];
  if (name === "sign_test_p" && typeof adjusted === "number") notes.push(`Holm across keys ${pValue(adjusted)}`);
  if (name !== "wilcoxon_p" && typeof stats.wilcoxon_p === "number") notes.push(`Wilcoxon ${pValue(stats.wilcoxon_p)}`);
  const shown = notes.filter(Boolean);
  return [pValue(stats[name]), shown.length > 0 && " ", shown.length > 0 && h("span", { class: "sub" }, `(${shown.join("; ")})`)];
}

function cssSafe(text) {
  return text.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
}
