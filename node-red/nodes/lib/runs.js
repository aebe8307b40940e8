"use strict";
/** Reading a run of the gateway: `GET /gateway/v1/runs/{run}`. */

const { call, ok } = require("./client");

/** ClearML task statuses after which a run changes no more. */
const FINAL = new Set(["completed", "published", "closed", "failed", "stopped"]);

async function readRun(server, run, timeoutMs, signal) {
    const what = `run ${run}`;
    const answer = await call(server, { method: "GET", path: `/gateway/v1/runs/${encodeURIComponent(run)}`,
        timeoutMs, what, signal });
    return ok(server, answer, what).body;
}

module.exports = { FINAL, readRun };
