"use strict";
/** A server-sent events parser (the WHATWG rules that matter here): feed it text, it calls back per event. */

class SseParser {
    /** @param {(event: {id?: string, event: string, data: string}) => void} onEvent
     *  @param {(ms: number) => void} onRetry */
    constructor(onEvent, onRetry) {
        this.onEvent = onEvent;
        this.onRetry = onRetry || (() => {});
        this.buffer = "";
        this.reset();
    }

    reset() {
        this.data = [];
        this.event = "";
        this.id = undefined;
    }

    feed(text) {
        this.buffer += text;
        let end;
        while ((end = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
            const line = this.buffer.slice(0, end);
            const newline = this.buffer[end] === "\r" && this.buffer[end + 1] === "\n" ? 2 : 1;
            if (this.buffer[end] === "\r" && end + 1 === this.buffer.length) {
                break; // a \r at the end of a chunk may be the first half of \r\n
            }
            this.buffer = this.buffer.slice(end + newline);
            this.line(line);
        }
    }

    line(line) {
        if (line === "") {
            if (this.data.length) {
                this.onEvent({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
            }
            this.reset();
            return;
        }
        if (line.startsWith(":")) {
            return; // a comment: keepalive
        }
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) {
            value = value.slice(1);
        }
        if (field === "data") {
            this.data.push(value);
        } else if (field === "event") {
            this.event = value;
        } else if (field === "id" && !value.includes("\0")) {
            this.id = value;
        } else if (field === "retry" && /^\d+$/.test(value)) {
            this.onRetry(Number(value));
        }
    }
}

module.exports = { SseParser };
