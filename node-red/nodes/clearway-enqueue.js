"use strict";
/** Node `clearway enqueue`: runs a template (a task cloned with msg.payload as its parameters) on its queue;
 * optionally waits for the run to finish, polling it with a bounded backoff. */

const { call, ok, ClearwayError } = require("./lib/client");
const { serverOf, dot, fail, seconds, pick } = require("./lib/node");
const { FINAL, readRun } = require("./lib/runs");

module.exports = function (RED) {
    function ClearwayEnqueueNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const server = serverOf(RED, node, config);
        let controller = new AbortController();
        const timers = new Set();

        function sleep(ms, signal) {
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => {
                    timers.delete(timer);
                    resolve();
                }, ms);
                timers.add(timer);
                signal.addEventListener("abort", () => {
                    clearTimeout(timer);
                    timers.delete(timer);
                    reject(new ClearwayError("cancelled: the node was stopped", 0));
                }, { once: true });
            });
        }

        async function enqueue(msg) {
            const template = pick(msg, "template", config.template);
            const queue = pick(msg, "queue", config.queue);
            const params = msg.payload === undefined || msg.payload === null ? {} : msg.payload;
            if (!template) {
                throw new ClearwayError("no template id: set it in the node or in msg.template", 0);
            }
            if (typeof params !== "object" || Array.isArray(params)) {
                throw new ClearwayError("msg.payload must be an object of parameters ({name: value})", 0);
            }
            const timeoutMs = seconds(config.timeout, 30);
            const req = config.compat
                ? { method: "POST", path: "/clearml/serve/enqueue_task", bodyToken: true,
                    json: { task_id: template, queue: queue || undefined, params } }
                : { method: "POST", path: `/gateway/v1/enqueue/${encodeURIComponent(template)}`,
                    json: queue ? { params, queue } : { params } };
            const answer = ok(server, await call(server, { ...req, timeoutMs, what: "enqueue",
                signal: controller.signal }), "enqueue");
            const run = answer.body && answer.body.run;
            if (!run) {
                throw new ClearwayError("enqueue: the server's answer names no run", answer.status, answer.body);
            }
            return run;
        }

        async function wait(run) {
            const signal = controller.signal;
            const deadline = Date.now() + seconds(config.waitTimeout, 3600);
            let delay = seconds(config.pollInterval, 2);
            const maxDelay = Math.max(delay, seconds(config.pollMax, 30));
            for (;;) {
                let doc = null;
                try {
                    doc = await readRun(server, run, seconds(config.timeout, 30), signal);
                } catch (err) {
                    const transient = err.statusCode === 0 || err.statusCode === 429 || err.statusCode >= 500;
                    if (!transient || signal.aborted) {
                        throw err;
                    }
                    node.warn(`run ${run}: ${err.message}; trying again`);
                }
                if (doc && FINAL.has(doc.status)) {
                    return doc;
                }
                if (doc) {
                    dot(node, doc.status === "queued" ? "queued" : "sending", `${doc.status} ${run}`);
                }
                if (Date.now() + delay > deadline) {
                    throw new ClearwayError(`run ${run} not finished within ${config.waitTimeout || 3600} s`
                        + ` (last status: ${doc ? doc.status : "unknown"})`, 504);
                }
                await sleep(delay, signal);
                delay = Math.min(maxDelay, Math.round(delay * 1.5));
            }
        }

        node.on("input", async (msg, send, done) => {
            if (!server) {
                done(new ClearwayError("no clearway-server configured", 0));
                return;
            }
            try {
                dot(node, "sending");
                const run = await enqueue(msg);
                msg.run = run;
                dot(node, "queued", `queued ${run}`);
                if (!config.wait) {
                    msg.payload = { status: "queued", run };
                    send(msg);
                    done();
                    return;
                }
                const doc = await wait(run);
                msg.payload = doc;
                node.status({ fill: doc.status === "completed" || doc.status === "published" ? "green" : "red",
                    shape: "dot", text: `${doc.status} ${run}` });
                send(msg);
                done();
            } catch (err) {
                fail(node, server, err, msg, done);
            }
        });

        node.on("close", (done) => {
            controller.abort();
            for (const timer of timers) {
                clearTimeout(timer);
            }
            timers.clear();
            controller = new AbortController();
            node.status({});
            done();
        });
    }

    RED.nodes.registerType("clearway enqueue", ClearwayEnqueueNode);
};
