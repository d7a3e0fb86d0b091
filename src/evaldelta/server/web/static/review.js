// The review view of an annotation queue, at /ui/review/<queue id>: item by item (the
// runs of one example, grouped: a baseline's and a comparison's run side by side), the
// example's inputs and reference outputs, each run's outputs, and an input per rubric
// key. "Save and next" writes the scores through POST /feedback, marks the items
// reviewed (PATCH /annotation-queues/<id>/runs/<queue_run_id>) and shows the next one.

import { fill, h, pretty, shortId } from "./dom.js";
import { markReviewed, queueRuns, readQueue } from "./queues.js";

const REVIEW = /^\/ui\/review\/([^/]+)\/?$/;

/** The queue this address reviews, or "". */
export function reviewQueueId(pathname = window.location.pathname) {
  const found = REVIEW.exec(pathname);
  return found ? decodeURIComponent(found[1]) : "";
}

/** Runs of the same example, in the order they were queued. */
export function groupByExample(items) {
  const groups = new Map();
  for (const item of items) {
    const key = item.reference_example_id ? `example:${item.reference_example_id}` : `run:${item.id}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return [...groups.values()];
}

export class ReviewView {
  /**
   * @param {HTMLElement} root
   * @param {{api: () => import("./api.js").Api, onError: (err: unknown) => void}} hooks
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.names = new Map(); // session id -> name
  }

  async open(queueId) {
    const api = this.hooks.api();
    this.root.hidden = false;
    fill(this.root, h("p", { class: "hint", role: "status" }, "Loading the queue…"));
    let queue, items;
    try {
      [queue, items] = await Promise.all([readQueue(api, queueId), queueRuns(api, queueId)]);
    } catch (err) {
      fill(
        this.root,
        h("h1", { id: "review-title" }, "No queue to review"),
        h("p", {}, "This queue was not found for this API key. ", h("a", { href: "/ui" }, "Back to the comparison page")),
      );
      throw err; // and the page says why, above
    }
    this.queue = queue;
    const rubric = (queue.rubric_items ?? []).filter((item) => item.feedback_key);
    this.keys = rubric.map((item) => item.feedback_key);
    // A rubric item may carry its key's feedback config; the others are looked up.
    this.configs = await this.loadConfigs(rubric.filter((item) => !item.feedback_config).map((item) => item.feedback_key));
    for (const item of rubric) if (item.feedback_config) this.configs.set(item.feedback_key, item.feedback_config);
    this.groups = groupByExample(items);
    await this.loadNames(items.map((item) => String(item.session_id)));
    this.showNext();
  }

  async loadConfigs(keys) {
    const configs = new Map();
    if (keys.length === 0) return configs;
    try {
      const rows = await this.hooks.api().json("GET", "/feedback-configs", { query: { key: keys } });
      for (const row of rows) configs.set(row.feedback_key, row.feedback_config);
    } catch (err) {
      this.hooks.onError(err); // a plain number input still works
    }
    return configs;
  }

  async loadNames(ids) {
    const api = this.hooks.api();
    await Promise.all(
      [...new Set(ids)].map(async (id) => {
        try {
          this.names.set(id, (await api.json("GET", `/sessions/${encodeURIComponent(id)}`)).name);
        } catch {
          this.names.set(id, shortId(id));
        }
      }),
    );
  }

  reviewedCount() {
    return this.groups.filter((group) => group.every((item) => item.last_reviewed_time)).length;
  }

  /** The first group not reviewed yet after `from`, then from the start. */
  nextIndex(from = -1) {
    const n = this.groups.length;
    for (let step = 1; step <= n; step++) {
      const i = (from + step + n) % n;
      if (!this.groups[i].every((item) => item.last_reviewed_time)) return i;
    }
    return -1;
  }

  header() {
    const done = this.reviewedCount();
    return [
      h("h1", { id: "review-title", tabindex: "-1" }, `Review “${this.queue.name}”`),
      this.queue.description && h("p", { class: "hint" }, this.queue.description),
      this.queue.rubric_instructions && h("p", { class: "rubric" }, this.queue.rubric_instructions),
      h(
        "p",
        { id: "review-progress", role: "status" },
        `${done} of ${this.groups.length} ${this.groups.length === 1 ? "item" : "items"} reviewed`,
      ),
    ];
  }

  showNext(from = -1) {
    const index = this.nextIndex(from);
    if (index < 0) {
      fill(
        this.root,
        this.header(),
        h("p", { class: "notice", dataset: { role: "review-done" } }, this.groups.length ? "Every item of this queue is reviewed." : "This queue is empty."),
        h("p", {}, h("a", { href: "/ui" }, "Back to the comparison page")),
      );
      this.root.querySelector("#review-title")?.focus();
      return;
    }
    this.showItem(index).catch(this.hooks.onError);
  }

  async showItem(index) {
    const group = this.groups[index];
    const api = this.hooks.api();
    const exampleId = group[0].reference_example_id;
    const [example] = exampleId ? await api.examples([String(exampleId)]) : [];
    const sides = new Map(); // session id -> runs, in queue order
    for (const item of group) sides.set(String(item.session_id), [...(sides.get(String(item.session_id)) ?? []), item]);
    const inputs = []; // {item, key, field}
    const notes = new Map(); // run id -> textarea
    const side = ([session, runs], position) => {
      const name = this.names.get(session) ?? shortId(session);
      const role = sides.size === 2 ? (position === 0 ? "Baseline" : "Comparison") : "Experiment";
      return h(
        "section",
        { class: "side", dataset: { session }, "aria-label": `${role} “${name}”` },
        h("h3", {}, `${role}: `, name),
        runs.map((item, r) => {
          const label = runs.length > 1 ? `“${name}” run ${r + 1}` : `“${name}”`;
          const note = h("textarea", { id: `note-${item.id}`, rows: "2" });
          notes.set(String(item.id), note);
          return h(
            "div",
            { class: "run", dataset: { run: item.id } },
            item.error && h("p", { class: "run-error" }, `Error: ${item.error}`),
            h("pre", { dataset: { role: "outputs" } }, pretty(item.outputs)),
            h(
              "fieldset",
              { class: "scores-form" },
              h("legend", {}, `Your scores for ${label}`),
              this.keys.map((key) => {
                const id = `score-${item.id}-${key}`;
                const field = this.field(key, id);
                inputs.push({ item, key, field });
                return h("div", { class: "field" }, h("label", { for: id }, `${key} for ${label}`), field);
              }),
              h("label", { for: note.id }, `Note for ${label} (optional)`),
              note,
            ),
          );
        }),
      );
    };
    const message = h("p", { class: "hint", role: "status", dataset: { role: "review-message" } });
    const save = h("button", { type: "submit" }, "Save and next");
    const skip = h("button", { type: "button", class: "secondary", onclick: () => this.showNext(index) }, "Skip");
    const form = h(
      "form",
      { class: "review-item", novalidate: true, dataset: { example: exampleId ?? "" } },
      h("h2", {}, `Item ${index + 1} of ${this.groups.length}`),
      this.keys.length === 0 && h("p", { class: "hint" }, "This queue's rubric names no feedback keys: mark it reviewed without scores."),
      h(
        "div",
        { class: "io" },
        h("div", {}, h("h3", {}, "Inputs"), h("pre", { dataset: { role: "inputs" } }, pretty(example?.inputs ?? group[0].inputs))),
        h("div", {}, h("h3", {}, "Reference outputs"), h("pre", { dataset: { role: "reference" } }, pretty(example?.outputs))),
      ),
      h("div", { class: "side-by-side" }, [...sides.entries()].map(side)),
      h("div", { class: "actions" }, save, skip),
      message,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save(index, inputs, notes, { save, message }).catch((err) => {
        save.disabled = false;
        message.textContent = "Not saved.";
        this.hooks.onError(err);
      });
    });
    fill(this.root, this.header(), form);
    form.querySelector("input, select, textarea")?.focus();
  }

  /** An input for one rubric key, shaped by its feedback config. */
  field(key, id) {
    const config = this.configs.get(key);
    if (config?.type === "categorical" && Array.isArray(config.categories)) {
      return h(
        "select",
        { id, dataset: { key, kind: "score" } },
        h("option", { value: "" }, "—"),
        config.categories.map((c) => h("option", { value: String(c.value) }, c.label ? `${c.label} (${c.value})` : String(c.value))),
      );
    }
    if (config?.type === "freeform") return h("input", { id, type: "text", dataset: { key, kind: "value" } });
    return h("input", {
      id,
      type: "number",
      step: "any",
      inputmode: "decimal",
      min: config?.min ?? undefined,
      max: config?.max ?? undefined,
      dataset: { key, kind: "score" },
    });
  }

  async save(index, inputs, notes, { save, message }) {
    const filled = inputs.filter(({ field }) => field.value.trim() !== "");
    if (this.keys.length > 0 && filled.length === 0) {
      message.textContent = "Give at least one score, or skip this item.";
      inputs[0]?.field.focus();
      return;
    }
    const bad = filled.find(({ field }) => field.dataset.kind === "score" && !Number.isFinite(Number(field.value)));
    if (bad) {
      message.textContent = `“${bad.key}” needs a number.`;
      bad.field.setAttribute("aria-invalid", "true");
      bad.field.focus();
      return;
    }
    save.disabled = true;
    message.textContent = "Saving…";
    const api = this.hooks.api();
    const group = this.groups[index];
    for (const { item, key, field } of filled) {
      const comment = notes.get(String(item.id))?.value.trim() || undefined;
      const body = {
        run_id: item.id,
        key,
        comment,
        feedback_source: { type: "app", metadata: { annotation_queue_id: this.queue.id } },
      };
      if (field.dataset.kind === "score") body.score = Number(field.value);
      else body.value = field.value;
      await api.json("POST", "/feedback", { body });
    }
    const now = new Date().toISOString();
    for (const item of group) {
      await markReviewed(api, this.queue.id, item.queue_run_id ?? item.id);
      item.last_reviewed_time = now;
    }
    this.showNext(index);
  }
}
