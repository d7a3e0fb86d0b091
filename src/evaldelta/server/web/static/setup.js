// The "what to compare" form: dataset, baseline, up to ten comparisons, feedback keys
// (from the chosen experiments' feedback_stats) and a run filter per experiment.

import { ApiError } from "./api.js";
import { fill, h, shortId } from "./dom.js";

const MAX_COMPARISONS = 10;

const $ = (id) => document.getElementById(id);

export class SetupForm {
  /**
   * @param {{api: () => import("./api.js").Api, report: (err: unknown) => void,
   *          onDataset: () => void, onChange: () => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.datasets = [];
    this.experiments = []; // of the chosen dataset
    this.stats = new Map(); // session id -> session read with feedback_stats
    this.keysTicket = 0;
    this.form = $("setup");
    this.dataset = $("dataset");
    this.pairwise = $("pairwise");
    this.comparatives = []; // pairwise experiments of the chosen dataset
    this.pairwiseKeys = null; // the keys to tick once a chosen pairwise experiment's load
    this.baseline = $("baseline");
    this.comparisonHint = $("comparison-hint");
    this.comparisonList = $("comparison-list");
    this.keyHint = $("key-hint");
    this.keyList = $("key-list");
    this.filters = $("filters");
    this.filterList = $("filter-list");

    this.dataset.addEventListener("change", () => {
      hooks.onDataset();
      this.loadExperiments().catch(hooks.report);
    });
    const experimentsChanged = () => {
      this.updateComparisonLimits();
      this.renderFilters({});
      hooks.onChange();
      this.loadKeys().then(hooks.onChange).catch(hooks.report);
    };
    this.pairwise.addEventListener("change", () => {
      this.choosePairwise();
      experimentsChanged();
    });
    this.baseline.addEventListener("change", experimentsChanged);
    this.comparisonList.addEventListener("change", experimentsChanged);
    this.keyList.addEventListener("change", hooks.onChange);
    this.filterList.addEventListener("input", hooks.onChange);
    $("keys-all").addEventListener("click", () => this.tickAllKeys(true));
    $("keys-none").addEventListener("click", () => this.tickAllKeys(false));
  }

  setDatasets(datasets) {
    this.datasets = datasets;
    fillSelect(this.dataset, "Choose a dataset…", datasets, (d) =>
      d.example_count == null ? d.name : `${d.name} (${d.example_count} examples)`,
    );
  }

  hasDataset(id) {
    return this.datasets.some((d) => d.id === id);
  }

  experiment(id) {
    const found = this.experiments.find((e) => e.id === id);
    return { id, name: found?.name ?? id };
  }

  /** The chosen pairwise experiment (as listed), or undefined. */
  comparative(id) {
    return this.comparatives.find((c) => c.id === id);
  }

  /** The form as it stands. */
  selection() {
    const baseline = this.baseline.value;
    const comparisons = [...this.comparisonList.querySelectorAll("input:checked")].map((b) => b.value);
    const chosen = new Set([baseline, ...comparisons]);
    const filters = Object.fromEntries(Object.entries(this.filterValues()).filter(([id]) => chosen.has(id)));
    const keys = [...this.keyList.querySelectorAll("input:checked")].map((box) => box.value);
    const pairwise = this.pairwise.value;
    return { dataset: this.dataset.value, pairwise, baseline, comparisons, keys, filters };
  }

  /** Ids in a server message, shown with the names people chose. */
  withNames(text) {
    let out = text;
    for (const item of [...this.experiments, ...this.datasets]) {
      out = out.replaceAll(String(item.id), `“${item.name}”`);
    }
    return out;
  }

  /** What is still to choose before comparing: [the field to focus, the message], or null. */
  missingChoice() {
    const sel = this.selection();
    const firstBox = (list) => list.querySelector("input:not(:disabled)") ?? this.baseline;
    if (!sel.dataset) return [this.dataset, "Choose a dataset."];
    if (!sel.baseline) return [this.baseline, "Choose a baseline experiment."];
    if (sel.comparisons.length === 0) return [firstBox(this.comparisonList), "Choose at least one comparison experiment."];
    if (sel.keys.length === 0) return [firstBox(this.keyList), "Choose at least one feedback key."];
    return null;
  }

  /** Fill the form from a link's state (the dataset must be one of this key's). */
  async restore(state) {
    this.dataset.value = state.dataset;
    await this.loadExperiments(state);
  }

  async loadExperiments(state = null) {
    const datasetId = this.dataset.value;
    try {
      this.experiments = datasetId ? await this.hooks.api().experiments(datasetId) : [];
    } catch (err) {
      this.experiments = [];
      this.hooks.report(err);
    }
    await this.loadPairwise(datasetId, state?.pairwise ?? "");
    const known = new Set(this.experiments.map((e) => e.id));
    const placeholder = this.experiments.length ? "Choose the baseline…" : "No experiments on this dataset";
    fillSelect(this.baseline, placeholder, this.experiments, (e) => e.name);
    if (state?.baseline && known.has(state.baseline)) this.baseline.value = state.baseline;
    const wanted = new Set(state?.comparisons ?? []);
    fill(
      this.comparisonList,
      this.experiments.map((exp) =>
        h(
          "label",
          { class: "check" },
          h("input", { type: "checkbox", name: "compare", value: exp.id, checked: wanted.has(exp.id) }),
          h("span", {}, exp.name),
          h("span", { class: "hint" }, ` ${new Date(exp.start_time).toLocaleDateString()}`),
        ),
      ),
    );
    const unknown = [...wanted, ...(state?.baseline ? [state.baseline] : [])].filter((id) => !known.has(id));
    if (unknown.length > 0) {
      this.hooks.report(new Error("Some experiments in this link were not found on this dataset; they were left out."));
    }
    this.updateComparisonLimits();
    this.renderFilters(state?.filters ?? {});
    if (state && Object.keys(state.filters).length > 0) this.filters.open = true;
    await this.loadKeys(state ? state.keys : null);
    this.hooks.onChange();
  }

  /** The dataset's pairwise experiments, as the choices of the pairwise field. */
  async loadPairwise(datasetId, wanted) {
    try {
      this.comparatives = datasetId ? await this.hooks.api().comparatives(datasetId) : [];
    } catch (err) {
      this.comparatives = [];
      this.hooks.report(err);
    }
    const label = (c) => `${c.name ?? c.id} (${c.experiments_info.map((e) => e.name).join(" vs ")})`;
    fillSelect(this.pairwise, "None: compare scores", this.comparatives, label);
    this.pairwise.disabled = this.comparatives.length === 0;
    if (wanted && this.comparatives.some((c) => c.id === wanted)) this.pairwise.value = wanted;
    else if (wanted) this.hooks.report(new Error("The pairwise experiment in this link was not found on this dataset."));
  }

  /** A pairwise experiment chosen: its first experiment is the baseline, the others are
   * compared with it, on the keys its evaluator wrote. */
  choosePairwise() {
    const chosen = this.comparatives.find((c) => c.id === this.pairwise.value);
    if (!chosen) return;
    const [first, ...others] = chosen.experiments_info.map((e) => e.id);
    this.baseline.value = first ?? "";
    const wanted = new Set(others);
    for (const box of this.comparisonList.querySelectorAll("input")) box.checked = wanted.has(box.value);
    this.pairwiseKeys = Object.entries(chosen.feedback_stats ?? {})
      .filter(([, stats]) => typeof stats?.avg === "number")
      .map(([key]) => key);
  }

  /** The baseline is not a comparison, and at most ten comparisons can be chosen. */
  updateComparisonLimits() {
    const boxes = [...this.comparisonList.querySelectorAll("input")];
    for (const box of boxes) {
      if (box.value === this.baseline.value) box.checked = false;
    }
    const count = boxes.filter((b) => b.checked).length;
    for (const box of boxes) {
      box.disabled = box.value === this.baseline.value || (!box.checked && count >= MAX_COMPARISONS);
    }
    this.comparisonHint.textContent = !this.experiments.length
      ? "Choose a dataset to see its experiments."
      : count >= MAX_COMPARISONS
        ? `${count} chosen: that is the most one comparison can hold.`
        : `${count} chosen.`;
  }

  filterValues() {
    const out = {};
    for (const input of this.filterList.querySelectorAll("input")) {
      if (input.value.trim()) out[input.dataset.session] = input.value.trim();
    }
    return out;
  }

  /** One filter field per chosen experiment, keeping what was typed. */
  renderFilters(values) {
    const kept = { ...this.filterValues(), ...values };
    const sel = this.selection();
    const rows = [
      ...(sel.baseline ? [[sel.baseline, "baseline"]] : []),
      ...sel.comparisons.map((id) => [id, "comparison"]),
    ];
    fill(
      this.filterList,
      rows.length === 0 && h("p", { class: "hint" }, "Choose experiments first."),
      rows.map(([id, role]) => {
        const inputId = `filter-${id}`;
        const name = this.experiments.find((e) => e.id === id)?.name ?? shortId(id);
        return h(
          "div",
          { class: "field" },
          h("label", { for: inputId }, `Filter for ${role} “${name}”`),
          h("input", {
            id: inputId,
            type: "text",
            spellcheck: "false",
            autocomplete: "off",
            placeholder: 'e.g. eq(run_type, "chain")',
            value: kept[id] ?? "",
            dataset: { session: id },
          }),
        );
      }),
    );
  }

  /** Feedback keys of the chosen experiments, from their `feedback_stats`. */
  async loadKeys(wanted = null) {
    const ticket = ++this.keysTicket;
    const sel = this.selection();
    const chosen = [sel.baseline, ...sel.comparisons].filter(Boolean);
    try {
      await Promise.all(
        chosen
          .filter((id) => !this.stats.has(id))
          .map(async (id) => this.stats.set(id, await this.hooks.api().experimentStats(id))),
      );
    } catch (err) {
      this.hooks.report(err);
    }
    if (ticket !== this.keysTicket) return; // a later change is already loading
    // Read the ticks only now: any box ticked while the keys were loading stays ticked.
    const keep = new Set(wanted ?? this.pairwiseKeys ?? this.selection().keys);
    this.pairwiseKeys = null;
    const found = new Set(chosen.flatMap((id) => Object.keys(this.stats.get(id)?.feedback_stats ?? {})));
    const keys = [...found].sort((a, b) => a.localeCompare(b));
    const extra = [...keep].filter((k) => !found.has(k)); // from a link: keep them visible
    fill(
      this.keyList,
      [...keys, ...extra].map((key) =>
        h(
          "label",
          { class: "check" },
          h("input", { type: "checkbox", name: "key", value: key, checked: keep.has(key) }),
          h("span", {}, key),
          !found.has(key) && h("span", { class: "hint" }, " (no feedback in these experiments)"),
        ),
      ),
    );
    this.keyHint.textContent =
      chosen.length === 0
        ? "Choose experiments to see their feedback keys."
        : keys.length === 0
          ? "These experiments have no feedback yet."
          : `${keys.length} keys with feedback in the chosen experiments.`;
  }

  tickAllKeys(checked) {
    for (const box of this.keyList.querySelectorAll("input")) box.checked = checked;
    this.hooks.onChange();
  }

  clearInvalid() {
    for (const input of this.filterList.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  /** A 422 that names a filter (loc: body › filters › session › index) points at its field. */
  markInvalidFilters(err) {
    if (!(err instanceof ApiError) || err.status !== 422 || !Array.isArray(err.detail)) return;
    const fields = err.detail
      .filter((item) => Array.isArray(item?.loc) && item.loc[1] === "filters")
      .map((item) => this.filterList.querySelector(`input[data-session="${CSS.escape(String(item.loc[2]))}"]`))
      .filter(Boolean);
    for (const field of fields) field.setAttribute("aria-invalid", "true");
    if (fields.length > 0) {
      this.filters.open = true;
      fields[0].focus();
    }
  }
}

function fillSelect(select, placeholder, items, label) {
  fill(
    select,
    h("option", { value: "" }, placeholder),
    items.map((item) => h("option", { value: item.id }, label(item))),
  );
}
