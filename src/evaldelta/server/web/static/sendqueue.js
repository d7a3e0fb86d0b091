// "Send regressed to a queue": the runs of the examples that regressed on one key in one
// comparison, both sides paired (the baseline's run, then the comparison's, example by
// example), go to an annotation queue, made with the key as its rubric when it is new.
// Runs already in the queue are not sent twice.

import { fill, h } from "./dom.js";
import { addRuns, listQueues, pairedRuns, queueNamed, queueRuns } from "./queues.js";

let formCount = 0;

/**
 * The action for one cell of regressed examples.
 * @param {import("./examples.js").Cell} cell
 * @param {{api: () => import("./api.js").Api, onError: (err: unknown) => void}} hooks
 * @returns {HTMLElement}
 */
export function sendToQueue(cell, hooks) {
  const n = ++formCount;
  const nameId = `queue-name-${n}`;
  const listId = `queue-names-${n}`;
  const name = h("input", {
    id: nameId,
    type: "text",
    list: listId,
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    value: `regressed: ${cell.key} · ${cell.comparison.name}`,
  });
  const names = h("datalist", { id: listId });
  const status = h("p", { class: "hint", role: "status" });
  const submit = h("button", { type: "submit" }, `Send ${cell.ids.length} ${cell.ids.length === 1 ? "example" : "examples"}`);
  const form = h(
    "form",
    { class: "queue-send", hidden: true, novalidate: true },
    h("label", { for: nameId }, "Annotation queue (an existing one, or a new name)"),
    name,
    names,
    h("div", { class: "actions" }, submit),
    status,
  );
  const open = h(
    "button",
    {
      type: "button",
      class: "secondary",
      "aria-expanded": "false",
      onclick: () => {
        form.hidden = !form.hidden;
        open.setAttribute("aria-expanded", String(!form.hidden));
        if (!form.hidden) {
          name.focus();
          listQueues(hooks.api())
            .then((queues) => fill(names, queues.map((q) => h("option", { value: q.name }))))
            .catch(() => {}); // only suggestions: a new name still works
        }
      },
    },
    "Send regressed to a queue",
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const queueName = name.value.trim();
    if (!queueName) {
      status.textContent = "Name the queue to send to.";
      name.focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    status.textContent = "Sending…";
    try {
      const api = hooks.api();
      const { queue, created } = await queueNamed(api, queueName, {
        keys: [cell.key],
        description: `Examples that regressed on “${cell.key}” in “${cell.comparison.name}” against the baseline “${cell.baseline.name}”.`,
      });
      const runs = await pairedRuns(api, {
        baseline: cell.baseline.id,
        comparison: cell.comparison.id,
        exampleIds: cell.ids,
        filters: cell.filters,
      });
      const already = created ? new Set() : new Set((await queueRuns(api, queue.id)).map((r) => String(r.id)));
      const fresh = runs.filter((id) => !already.has(String(id)));
      if (fresh.length > 0) await addRuns(api, queue.id, fresh);
      const skipped = runs.length - fresh.length;
      fill(
        status,
        `Sent ${fresh.length} runs of ${cell.ids.length} examples to “${queue.name}”`,
        skipped ? ` (${skipped} were already there)` : "",
        ". ",
        h("a", { href: `/ui/review/${encodeURIComponent(queue.id)}` }, "Review them"),
      );
    } catch (err) {
      status.textContent = "Not sent.";
      hooks.onError(err);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return h("div", { class: "drill-actions" }, open, form);
}
