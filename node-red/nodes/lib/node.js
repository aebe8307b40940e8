"use strict";
/** What the Clearway nodes share: their server, the status dots, a deadline, and errors a Catch node sees. */

const { safe } = require("./client");

const DOTS = {
    sending: { fill: "blue", shape: "dot", text: "sending" },
    queued: { fill: "yellow", shape: "ring", text: "queued" },
    connected: { fill: "green", shape: "dot", text: "connected" },
};

/** The node's clearway-server, or null after putting an error status on the node. */
function serverOf(RED, node, config) {
    const server = RED.nodes.getNode(config.server);
    if (!server || !server.url) {
        node.status({ fill: "red", shape: "ring", text: "no server configured" });
        return null;
    }
    return server;
}

function dot(node, name, text) {
    const status = { ...DOTS[name] };
    if (text) {
        status.text = text;
    }
    node.status(status);
}

/** Report a failure through node.error(err, msg) (Catch nodes see it) with a red status; no secret in it. */
function fail(node, server, err, msg, done) {
    const error = safe(server, err);
    node.status({ fill: "red", shape: "ring", text: `error${error.statusCode ? ` ${error.statusCode}` : ""}` });
    if (msg && error.statusCode) {
        msg.statusCode = error.statusCode;
    }
    if (done) {
        done(error); // Node-RED 1.0+: the same as node.error(error, msg)
    } else {
        node.error(error, msg);
    }
}

/** A timeout in ms from a node property in seconds. */
function seconds(value, fallback) {
    const n = Number(value);
    return (Number.isFinite(n) && n > 0 ? n : fallback) * 1000;
}

/** A string property from msg when it is set there, else the node's. */
function pick(msg, key, configured) {
    const value = msg[key];
    return typeof value === "string" && value !== "" ? value : configured;
}

module.exports = { serverOf, dot, fail, seconds, pick };
