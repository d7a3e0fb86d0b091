// A Server-Sent Events parser for fetch() bodies: EventSource cannot POST.
// It follows the WHATWG event-stream rules that matter for a one-shot stream
// (event, data, comments, any line ending), whatever way the bytes are split.

export class SSEParser {
  /** @param {(event: {event: string, data: string}) => void} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.afterCR = false;
    this.event = "";
    this.data = [];
  }

  /** Feed decoded text; complete events are dispatched as their blank line arrives. */
  push(text) {
    if (text === "") return;
    // The \n of a \r\n pair split across two chunks: that line has already ended.
    let start = this.afterCR && text.startsWith("\n") ? 1 : 0;
    const lineEnd = /\r\n|\r|\n/g;
    lineEnd.lastIndex = start;
    let match;
    while ((match = lineEnd.exec(text)) !== null) {
      this.line(this.buffer + text.slice(start, match.index));
      this.buffer = "";
      start = lineEnd.lastIndex;
    }
    this.buffer += text.slice(start);
    this.afterCR = text.endsWith("\r");
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // a comment, e.g. a keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    // "id" and "retry" mean nothing for a stream that is never resumed.
  }

  dispatch() {
    if (this.data.length > 0) {
      this.onEvent({ event: this.event || "message", data: this.data.join("\n") });
    }
    this.event = "";
    this.data = [];
  }
}

/**
 * The events of a fetch() Response body, in order, as they arrive.
 * @param {ReadableStream<Uint8Array>} body
 */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const ready = [];
  const parser = new SSEParser((event) => ready.push(event));
  try {
    for (;;) {
      const { value, done } = await reader.read();
      parser.push(done ? decoder.decode() : decoder.decode(value, { stream: true }));
      while (ready.length > 0) yield ready.shift();
      if (done) return; // an event without its closing blank line is dropped, as in browsers
    }
  } finally {
    // Stop the download when the reader stops early (after "end", or on an error).
    reader.cancel().catch(() => {});
  }
}
