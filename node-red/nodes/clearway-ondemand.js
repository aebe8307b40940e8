"use strict";
/** Node `clearway on-demand`: msg.payload as the JSON body of a served model's endpoint; its answer back in
 * msg.payload and the HTTP status in msg.statusCode. */

const { call, ok, ClearwayError } = require("./lib/client");
const { serverOf, dot, fail, seconds, pick } = require("./lib/node");

module.exports = function (RED) {
    function ClearwayOnDemandNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const server = serverOf(RED, node, config);
        let controller = new AbortController();

        node.on("input", async (msg, send, done) => {
            if (!server) {
                done(new ClearwayError("no clearway-server configured", 0));
                return;
            }
            const machine = pick(msg, "machine", config.machine);
            const endpoint = pick(msg, "endpoint", config.endpoint);
            try {
                if (!machine || !endpoint) {
                    throw new ClearwayError("set the machine id and the endpoint (in the node, or msg.machine and"
                        + " msg.endpoint)", 0);
                }
                const body = msg.payload === undefined ? {} : msg.payload;
                const req = config.compat
                    ? { method: "POST", path: "/clearml/serve/ondemand", bodyToken: true,
                        json: { machine_id: machine, endpoint, params: body } }
                    : { method: "POST",
                        path: `/gateway/v1/ondemand/${encodeURIComponent(machine)}/${encodeURIComponent(endpoint)}`,
                        json: body };
                dot(node, "sending");
                const answer = await call(server, { ...req, timeoutMs: seconds(config.timeout, 60),
                    what: `on-demand ${endpoint}`, signal: controller.signal });
                msg.statusCode = answer.status;
                msg.headers = answer.headers;
                msg.payload = answer.body;
                ok(server, answer, `on-demand ${endpoint}`);
                node.status({ fill: "green", shape: "dot", text: String(answer.status) });
                send(msg);
                done();
            } catch (err) {
                fail(node, server, err, msg, done);
            }
        });

        node.on("close", (done) => {
            controller.abort();
            controller = new AbortController();
            node.status({});
            done();
        });
    }

    RED.nodes.registerType("clearway on-demand", ClearwayOnDemandNode);
};
