// The drill-down panel: the examples behind one count, then one example with its
// inputs, reference outputs, and both experiments' outputs and scores side by side.

import { fill, h, plain, pretty, preview, shortId } from "./dom.js";

const LIST_PAGE = 50;

/**
 * @typedef {{id: string, name: string}} Experiment
 * @typedef {{key: string, kind: string, comparison: Experiment, baseline: Experiment,
 *            ids: string[], filters: Record<string, string>, pairwise?: string}} Cell
 */

export class ExamplePanel {
  /**
   * @param {HTMLElement} root the panel (its children are built here)
   * @param {{api: () => import("./api.js").Api, onExample: (id: string) => void,
   *          onClose: () => void, onError: (err: unknown) => void,
   *          actions?: (cell: Cell) => HTMLElement | null}} hooks
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.cache = new Map(); // example id -> example
    this.title = h("h2", { id: "drill-title", tabindex: "-1" });
    this.subtitle = h("p", { class: "hint" });
    this.actions = h("div"); // what can be done with the listed examples (hooks.actions)
    this.list = h("ol", { class: "example-list", "aria-labelledby": "drill-title" });
    this.more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => this.showMore() }, "Show more");
    this.detail = h("section", { class: "example-detail", "aria-labelledby": "example-title", hidden: true });
    const close = h(
      "button",
      { type: "button", class: "secondary close", "aria-label": "Close the example list", onclick: () => hooks.onClose() },
      "Close",
    );
    fill(root, h("div", { class: "drill-head" }, this.title, close), this.subtitle, this.actions, this.list, this.more, this.detail);
    root.addEventListener("keydown", (e) => {
      if (e.key === "Escape") hooks.onClose();
    });
  }

  /** List the examples of one cell; resolves once the first page of inputs is shown. */
  async showCell(cell) {
    this.cell = cell;
    this.shown = 0;
    this.root.hidden = false;
    const noun = cell.ids.length === 1 ? "example" : "examples";
    const verb = cell.pairwise ? (cell.kind === "improved" ? "won" : "lost") : cell.kind;
    this.title.textContent = `${cell.ids.length} ${noun} ${verb} on “${cell.key}”`;
    this.subtitle.textContent = `“${cell.comparison.name}” against the baseline “${cell.baseline.name}”. Choose one to see both experiments' outputs.`;
    fill(this.actions, this.hooks.actions?.(cell) ?? null);
    this.list.replaceChildren();
    this.detail.hidden = true;
    this.detail.replaceChildren();
    await this.showMore();
  }

  async showMore() {
    const cell = this.cell;
    const ids = cell.ids.slice(this.shown, this.shown + LIST_PAGE);
    this.shown += ids.length;
    this.more.hidden = this.shown >= cell.ids.length;
    const items = ids.map((id) => {
      const text = h("span", { class: "preview" }, "loading inputs…");
      const button = h(
        "button",
        { type: "button", class: "example-link", dataset: { example: id }, onclick: () => this.hooks.onExample(id) },
        h("code", { title: id }, shortId(id)),
        text,
      );
      this.list.append(h("li", {}, button));
      return { id, text };
    });
    try {
      const missing = ids.filter((id) => !this.cache.has(id));
      for (const example of await this.hooks.api().examples(missing)) this.cache.set(String(example.id), example);
      for (const { id, text } of items) {
        const example = this.cache.get(id);
        text.textContent = example ? preview(example.inputs) : "(example not found)";
      }
    } catch (err) {
      for (const { text } of items) text.textContent = "";
      this.hooks.onError(err);
    }
  }

  focusTitle() {
    this.title.focus();
  }

  /** One example in full, both experiments side by side. */
  async showExample(exampleId) {
    const cell = this.cell;
    for (const link of this.list.querySelectorAll(".example-link")) {
      link.toggleAttribute("aria-current", link.dataset.example === exampleId);
    }
    const heading = h("h3", { id: "example-title", tabindex: "-1" }, "Example ", h("code", {}, exampleId));
    fill(this.detail, heading, h("p", { class: "hint", role: "status" }, "Loading…"));
    this.detail.hidden = false;
    heading.focus();
    const api = this.hooks.api();
    try {
      const [example, baseRuns, compRuns] = await Promise.all([
        this.example(exampleId),
        api.rootRuns(cell.baseline.id, exampleId, cell.filters[cell.baseline.id]),
        api.rootRuns(cell.comparison.id, exampleId, cell.filters[cell.comparison.id]),
      ]);
      const feedback = await api.feedback([...baseRuns, ...compRuns].map((r) => r.id));
      const byRun = new Map();
      for (const f of feedback) byRun.set(String(f.run_id), [...(byRun.get(String(f.run_id)) ?? []), f]);
      const side = (label, exp, runs) =>
        h(
          "section",
          { class: "side", dataset: { session: exp.id }, "aria-label": `${label} “${exp.name}”` },
          h("h4", {}, `${label}: `, exp.name),
          keyMean(cell.key, runs, byRun, cell.filters[exp.id], cell.pairwise),
          runs.length === 0
            ? h("p", { class: "hint" }, "No run of this experiment on this example.")
            : runs.map((run, i) => runView(run, i, runs.length, byRun.get(String(run.id)) ?? [], cell.key)),
        );
      fill(
        this.detail,
        heading,
        h(
          "div",
          { class: "io" },
          h("div", {}, h("h4", {}, "Inputs"), h("pre", { dataset: { role: "inputs" } }, pretty(example?.inputs))),
          h("div", {}, h("h4", {}, "Reference outputs"), h("pre", { dataset: { role: "reference" } }, pretty(example?.outputs))),
        ),
        h(
          "div",
          { class: "side-by-side" },
          side("Baseline", cell.baseline, baseRuns),
          side(sideLabel(cell), cell.comparison, compRuns),
        ),
      );
    } catch (err) {
      fill(this.detail, heading, h("p", { class: "hint" }, "Could not load this example."));
      this.hooks.onError(err);
    }
  }

  async example(id) {
    if (!this.cache.has(id)) {
      const [found] = await this.hooks.api().examples([id]);
      if (found) this.cache.set(id, found);
    }
    return this.cache.get(id);
  }

  close() {
    this.root.hidden = true;
    this.cell = null;
  }
}

function sideLabel(cell) {
  if (cell.pairwise) return cell.kind === "improved" ? "Preferred" : "Not preferred";
  return cell.kind === "improved" ? "Improved in" : "Regressed in";
}

/** The experiment's score for the key, as the delta engine counts it: the mean over
 * the root runs shown (repetitions averaged, booleans as 1/0, null scores ignored), of
 * the chosen pairwise experiment's feedback, or else of feedback outside any. */
function keyMean(key, runs, byRun, filter, pairwise) {
  const counted = (f) => String(f.comparative_experiment_id ?? "") === (pairwise || "");
  const scores = runs
    .flatMap((run) => byRun.get(String(run.id)) ?? [])
    .filter((f) => f.key === key && f.score !== null && f.score !== undefined && counted(f))
    .map((f) => Number(f.score));
  const mean = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
  return h(
    "p",
    { class: "key-mean", dataset: { role: "key-mean" } },
    `Mean “${key}”: `,
    h("strong", {}, mean === null ? "no score" : plain(mean)),
    scores.length > 1 ? ` over ${scores.length} scores` : "",
    filter ? h("span", { class: "hint" }, ` (runs matching ${filter})`) : "",
  );
}

function runView(run, index, total, feedback, key) {
  const scores = [...feedback].sort((a, b) => (a.key === key ? -1 : b.key === key ? 1 : a.key.localeCompare(b.key)));
  return h(
    "div",
    { class: "run", dataset: { run: run.id } },
    h("p", { class: "run-title" }, total > 1 ? `Run ${index + 1} of ${total} ` : "Run ", h("code", { title: run.id }, shortId(run.id))),
    run.error && h("p", { class: "run-error" }, `Error: ${run.error}`),
    h("pre", { dataset: { role: "outputs" } }, pretty(run.outputs)),
    scores.length === 0
      ? h("p", { class: "hint" }, "No feedback.")
      : h(
          "table",
          { class: "scores" },
          h("caption", { class: "sr-only" }, "Feedback on this run"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col", class: "num" }, "Score"))),
          h(
            "tbody",
            {},
            scores.map((f) =>
              h(
                "tr",
                { class: f.key === key ? "current" : "", title: f.comment ?? undefined },
                h("th", { scope: "row" }, f.key),
                h("td", { class: "num" }, scoreText(f)),
              ),
            ),
          ),
        ),
  );
}

function scoreText(feedback) {
  if (feedback.score !== null && feedback.score !== undefined) return plain(feedback.score);
  if (feedback.value !== null && feedback.value !== undefined) return typeof feedback.value === "string" ? feedback.value : JSON.stringify(feedback.value);
  return "—";
}
