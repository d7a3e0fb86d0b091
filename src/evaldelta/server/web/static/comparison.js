// One comparison on screen: a card per key, filled as the delta stream's events arrive,
// and the progress line ("3 of 12 keys").

import { fill } from "./dom.js";
import { KeyCard } from "./results.js";

const $ = (id) => document.getElementById(id);

const PROGRESS = {
  running: "Computing…",
  done: "Done:",
  stopped: "Stopped:",
  cut: "Interrupted:",
  failed: "Failed:",
};

export class Comparison {
  /**
   * @param {{keys: string[], baseline: {id: string, name: string},
   *          comparisons: {id: string, name: string}[],
   *          onOpen: import("./results.js").OpenCell, withNames: (text: string) => string}} setup
   */
  constructor(setup) {
    this.setup = setup;
    this.keys = setup.keys;
    this.controller = new AbortController();
    this.cards = new Map();
    this.results = new Map(); // key -> {session id: {improved_examples, regressed_examples, stats?}}
    this.arrived = new Set();
    this.failed = 0;
    this.state = "running";
    this.list = $("cards");
    this.progress = $("progress");
    this.progressText = $("progress-text");
    this.region = $("results");
    for (const key of this.keys) this.cards.set(key, this.card(key));
    fill(this.list, [...this.cards.values()].map((card) => card.element));
    this.showProgress();
  }

  card(key) {
    const { baseline, comparisons, onOpen, pairwise } = this.setup;
    return new KeyCard(key, { baseline, comparisons, onOpen, pairwise });
  }

  /** Stop reading (the Stop button): the cards say what did not arrive. */
  abort() {
    this.controller.abort();
  }

  /** Replaced by another comparison: stop, and leave the page to the new one. */
  retire() {
    this.retired = true;
    this.controller.abort();
  }

  /**
   * Read the stream to its end. Resolves with the error that stopped it, or null.
   * @param {AsyncIterable<{event: string, data: string}>} events
   */
  async read(events) {
    let error = null;
    try {
      for await (const event of events) {
        if (event.event === "end") {
          this.state = "done";
          this.acceptEnd(event.data);
          break;
        }
        if (event.event === "data") this.accept(JSON.parse(event.data));
      }
      if (this.state !== "done") this.state = "cut";
    } catch (err) {
      this.state = err?.name === "AbortError" ? "stopped" : "failed";
      error = err;
    }
    const why = this.state === "stopped" ? "Stopped before this key arrived." : "Not computed: the comparison did not complete.";
    for (const [key, card] of this.cards) {
      if (!this.arrived.has(key)) card.setMissing(why);
    }
    this.showProgress();
    return error;
  }

  /** One chunk of the stream: a key's deltas, or its in-band error. */
  accept(chunk) {
    for (const [key, deltas] of Object.entries(chunk.feedback_deltas ?? {})) {
      this.results.set(key, deltas);
      this.arrived.add(key);
      this.cardFor(key).setResult(deltas);
    }
    for (const error of chunk.errors ?? []) {
      for (const key of error.feedback_keys ?? []) {
        this.arrived.add(key);
        this.failed += 1;
        this.cardFor(key).setError(this.setup.withNames(String(error.error)));
      }
    }
    this.showProgress();
  }

  /** The end event may carry sign-test p-values Holm-adjusted across the keys. */
  acceptEnd(data) {
    let end = {};
    try {
      end = JSON.parse(data) ?? {};
    } catch {
      return; // the end still counts; only its extras are unreadable
    }
    for (const [session, perKey] of Object.entries(end.holm_sign_test_p ?? {})) {
      for (const [key, p] of Object.entries(perKey ?? {})) this.cards.get(key)?.setAdjusted(session, p);
    }
  }

  cardFor(key) {
    if (!this.cards.has(key)) {
      // The server names only requested keys; this keeps an unexpected one visible anyway.
      const card = this.card(key);
      this.cards.set(key, card);
      this.list.append(card.element);
    }
    return this.cards.get(key);
  }

  showProgress() {
    if (this.retired) return;
    const total = this.keys.length;
    const done = Math.min(this.arrived.size, total);
    const failed = this.failed ? `, ${this.failed} failed` : "";
    this.progress.max = total;
    this.progress.value = done;
    this.progressText.textContent = `${PROGRESS[this.state]} ${done} of ${total} keys${failed}`;
    this.region.setAttribute("aria-busy", this.state === "running" ? "true" : "false");
  }
}
