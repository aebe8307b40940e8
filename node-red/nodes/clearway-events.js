"use strict";
/** Node `clearway events`: listens to the server's live stream (`GET /events/stream`, server-sent events) and
 * sends one message per notification; reconnects with Last-Event-ID, so nothing kept on the server is missed. */

const { ClearwayError, fetchWithTimeout, readBody, reason } = require("./lib/auth");
const { safe } = require("./lib/client");
const { serverOf, dot, seconds } = require("./lib/node");
const { SseParser } = require("./lib/sse");

const MAX_BACKOFF_MS = 30000;

module.exports = function (RED) {
    function ClearwayEventsNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const server = serverOf(RED, node, config);
        if (!server) {
            return;
        }
        const connectTimeoutMs = seconds(config.timeout, 30);
        const idleMs = seconds(config.idleTimeout, 60); // the server sends a keepalive every 15 s
        let lastEventId = null;
        let retryMs = 2000;
        let failures = 0;
        let stopped = false;
        let controller = null;
        let timer = null;
        let wake = null;

        function query() {
            const params = new URLSearchParams();
            for (const kind of String(config.kinds || "").split(",").map((k) => k.trim()).filter(Boolean)) {
                params.append("kind", kind);
            }
            if (config.project) {
                params.set("project", config.project);
            }
            if (config.task) {
                params.set("task", config.task);
            }
            const text = params.toString();
            return text ? `?${text}` : "";
        }

        function deliver(event) {
            if (event.id !== undefined && event.id !== "") {
                lastEventId = event.id;
            }
            if (event.event === "error") {
                let why = event.data;
                try {
                    why = JSON.parse(event.data).error || why;
                } catch (_err) { /* plain text */ }
                throw new ClearwayError(`the server ended the stream: ${why}`, 401);
            }
            let payload = event.data;
            try {
                payload = JSON.parse(event.data);
            } catch (_err) { /* not JSON: sent as text */ }
            const msg = { payload, eventId: event.id };
            if (payload && typeof payload === "object" && payload.type) {
                msg.topic = payload.type;
            }
            node.send(msg);
        }

        async function listen() {
            controller = new AbortController();
            const token = await server.tokens.bearer();
            const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token}` };
            if (lastEventId !== null) {
                headers["Last-Event-ID"] = lastEventId;
            }
            // The connect deadline covers the answer's headers only; the stream's silence is watched below.
            const connect = new AbortController();
            let why = null;
            const abort = (reason) => {
                why = why || reason;
                connect.abort();
            };
            const connectTimer = setTimeout(() => abort(`no answer within ${connectTimeoutMs / 1000} s`),
                connectTimeoutMs);
            if (stopped) {
                return; // closed while the token was being obtained
            }
            controller.signal.addEventListener("abort", () => abort("stopped"), { once: true });
            const explained = (err) => (why ? new ClearwayError(`events stream: ${why}`, 0) : err);
            let response;
            try {
                response = await fetchWithTimeout(`${server.url}/events/stream${query()}`,
                    { headers, signal: connect.signal }, null, "events stream");
            } catch (err) {
                throw explained(err);
            } finally {
                clearTimeout(connectTimer);
            }
            if (response.status !== 200) {
                const body = await readBody(response);
                if (response.status === 401) {
                    server.tokens.invalidate(token);
                }
                throw new ClearwayError(`events stream: ${response.status} ${reason(body)}`, response.status);
            }
            dot(node, "connected");
            failures = 0;
            const parser = new SseParser(deliver, (ms) => {
                retryMs = ms;
            });
            const decoder = new TextDecoder();
            const reader = response.body.getReader();
            let idle = null;
            const watch = () => {
                clearTimeout(idle);
                idle = setTimeout(() => abort(`nothing received for ${idleMs / 1000} s`), idleMs);
            };
            try {
                watch();
                for (;;) {
                    const { value, done } = await reader.read();
                    if (done) {
                        break;
                    }
                    watch();
                    parser.feed(decoder.decode(value, { stream: true }));
                }
            } catch (err) {
                throw explained(err);
            } finally {
                clearTimeout(idle);
                reader.cancel().catch(() => {});
            }
        }

        async function loop() {
            while (!stopped) {
                try {
                    await listen();
                    if (!stopped) {
                        dot(node, "queued", "reconnecting");
                    }
                } catch (err) {
                    if (stopped) {
                        break;
                    }
                    failures += 1;
                    const error = safe(server, err);
                    const code = error.statusCode ? ` ${error.statusCode}` : "";
                    node.status({ fill: "red", shape: "ring", text: `error${code}` });
                    node.error(error, { payload: null, statusCode: error.statusCode });
                }
                if (stopped) {
                    break;
                }
                const wait = failures ? Math.min(MAX_BACKOFF_MS, retryMs * 2 ** (failures - 1)) : retryMs;
                await new Promise((resolve) => {
                    wake = resolve;
                    timer = setTimeout(resolve, wait);
                });
                timer = null;
                wake = null;
            }
        }

        loop();

        node.on("close", (done) => {
            stopped = true;
            clearTimeout(timer);
            if (wake) {
                wake();
            }
            if (controller) {
                controller.abort();
            }
            node.status({});
            done();
        });
    }

    RED.nodes.registerType("clearway events", ClearwayEventsNode);
};
