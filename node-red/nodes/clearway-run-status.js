"use strict";
/** Node `clearway run status`: reads a run (status, times, metrics, artifact names). */

const { ClearwayError } = require("./lib/client");
const { serverOf, dot, fail, seconds, pick } = require("./lib/node");
const { readRun } = require("./lib/runs");

module.exports = function (RED) {
    function ClearwayRunStatusNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const server = serverOf(RED, node, config);

        node.on("input", async (msg, send, done) => {
            if (!server) {
                done(new ClearwayError("no clearway-server configured", 0));
                return;
            }
            const fromPayload = typeof msg.payload === "string" ? msg.payload : undefined;
            const run = pick(msg, "run", fromPayload || config.run);
            try {
                if (!run) {
                    throw new ClearwayError("no run id: set it in the node, in msg.run or as msg.payload", 0);
                }
                dot(node, "sending");
                const doc = await readRun(server, run, seconds(config.timeout, 30));
                msg.run = run;
                msg.payload = doc;
                node.status({ fill: doc.status === "failed" ? "red" : "green", shape: "dot", text: doc.status });
                send(msg);
                done();
            } catch (err) {
                fail(node, server, err, msg, done);
            }
        });

        node.on("close", () => node.status({}));
    }

    RED.nodes.registerType("clearway run status", ClearwayRunStatusNode);
};
