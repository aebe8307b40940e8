"use strict";
/** Unit tests of the Clearway nodes in Node-RED's test runtime, against a fake Clearway on a local port. */

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const helper = require("node-red-node-test-helper");
const catchNode = require("@node-red/nodes/core/common/25-catch.js");
const serverNode = require("../nodes/clearway-server.js");
const enqueueNode = require("../nodes/clearway-enqueue.js");
const onDemandNode = require("../nodes/clearway-ondemand.js");
const runStatusNode = require("../nodes/clearway-run-status.js");
const eventsNode = require("../nodes/clearway-events.js");
const fake = require("./fake-clearway.js");

helper.init(require.resolve("node-red"));

const NODES = [serverNode, enqueueNode, onDemandNode, runStatusNode, eventsNode, catchNode];
const SECRETS = [fake.GATEWAY_TOKEN, fake.SECRET_KEY, fake.CLIENT_SECRET, "wrong-token-5ecret", "wrong-secret-key-5ecret"];

/** The next message a helper node receives, or a failure after `ms`. */
function next(node, ms = 5000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message at ${node.id} within ${ms} ms`)), ms);
        node.once("input", (msg) => {
            clearTimeout(timer);
            resolve(msg);
        });
    });
}

/** A flow: the server config, the node under test wired to helper "out", a catch node wired to helper "caught". */
function flow(url, node, server = {}) {
    return [
        { id: "srv", type: "clearway-server", url, authType: "token", ...server },
        { id: "n", wires: [["out"]], server: "srv", ...node },
        { id: "out", type: "helper" },
        { id: "c", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
        { id: "caught", type: "helper" },
    ];
}

describe("clearway nodes", () => {
    let clearway;
    const seen = []; // every message the helpers got, checked for secrets at the end
    const logged = []; // everything Node-RED logged, test by test (the helper's log spy is new at each load)

    before(async () => {
        clearway = await new fake.FakeClearway().start();
        await new Promise((resolve) => helper.startServer(resolve));
    });

    afterEach(async () => {
        logged.push(JSON.stringify(helper.log().args));
        for (const id of ["out", "caught"]) {
            const node = helper.getNode(id);
            if (node) {
                node.removeAllListeners("input");
            }
        }
        await helper.unload();
    });

    after(async () => {
        await new Promise((resolve) => helper.stopServer(resolve));
        await clearway.stop();
        const log = logged.join("\n");
        const messages = JSON.stringify(seen);
        for (const secret of SECRETS) {
            assert.ok(!log.includes(secret), "a secret appears in Node-RED's log");
            assert.ok(!messages.includes(secret), "a secret appears in a message");
        }
    });

    async function load(nodeDef, creds = { token: fake.GATEWAY_TOKEN }, server = {}) {
        await helper.load(NODES, flow(clearway.url, nodeDef, server), { srv: creds });
        for (const id of ["out", "caught"]) {
            helper.getNode(id).on("input", (msg) => seen.push(msg));
        }
        return { n: helper.getNode("n"), out: helper.getNode("out"), caught: helper.getNode("caught") };
    }

    it("enqueues with the token in the header and outputs {status: queued, run}", async () => {
        const { n, out } = await load({ type: "clearway enqueue", template: "tpl1", queue: "cpu" });
        const got = next(out);
        n.receive({ payload: { lr: 0.1 } });
        const msg = await got;
        assert.equal(msg.payload.status, "queued");
        assert.match(msg.payload.run, /^run-tpl1-/);
        assert.equal(msg.run, msg.payload.run);
        const req = clearway.requests.at(-1);
        assert.equal(req.path, "/gateway/v1/enqueue/tpl1");
        assert.equal(req.headers.authorization, `Bearer ${fake.GATEWAY_TOKEN}`);
        assert.deepEqual(req.body, { params: { lr: 0.1 }, queue: "cpu" });
    });

    it("shows sending, then queued; or an error with the status", async () => {
        let { n, out, caught } = await load({ type: "clearway enqueue", template: "tpl1" });
        let shown = [];
        n.status = (status) => shown.push(status);
        let got = next(out);
        n.receive({ payload: {} });
        const msg = await got;
        assert.deepEqual(shown, [{ fill: "blue", shape: "dot", text: "sending" },
            { fill: "yellow", shape: "ring", text: `queued ${msg.run}` }]);
        await helper.unload();
        ({ n, caught } = await load({ type: "clearway enqueue", template: "tpl1" }, { token: "wrong-token-5ecret" }));
        shown = [];
        n.status = (status) => shown.push(status);
        got = next(caught);
        n.receive({ payload: {} });
        await got;
        assert.deepEqual(shown.at(-1), { fill: "red", shape: "ring", text: "error 401" });
    });

    it("takes the template and queue from msg when set there", async () => {
        const { n, out } = await load({ type: "clearway enqueue", template: "tpl1" });
        const got = next(out);
        n.receive({ payload: {}, template: "tpl2", queue: "gpu" });
        await got;
        const req = clearway.requests.at(-1);
        assert.equal(req.path, "/gateway/v1/enqueue/tpl2");
        assert.deepEqual(req.body, { params: {}, queue: "gpu" });
    });

    it("waits for the run and outputs its final status, metrics and artifact names", async () => {
        const { n, out } = await load({ type: "clearway enqueue", template: "waited", wait: true,
            pollInterval: 0.01, pollMax: 0.02 });
        const got = next(out);
        n.receive({ payload: { epochs: 1 } });
        const msg = await got;
        assert.equal(msg.payload.status, "completed");
        assert.deepEqual(msg.payload.metrics, { loss: { total: { last: 0.1, min: 0.1, max: 0.9 } } });
        assert.deepEqual(msg.payload.artifacts, ["model.pkl"]);
        assert.equal(clearway.runReads[msg.run], 3);
    });

    it("keeps waiting through a failed poll (503), with a warning", async () => {
        const { n, out } = await load({ type: "clearway enqueue", template: "bumpy", wait: true,
            pollInterval: 0.01, pollMax: 0.02 });
        clearway.runScript = new Proxy({}, { get: () => ["queued", "unavailable", "completed"] });
        try {
            const got = next(out);
            n.receive({ payload: {} });
            assert.equal((await got).payload.status, "completed");
            const warned = helper.log().args.filter((args) => args[0].level === helper.log().WARN);
            assert.match(JSON.stringify(warned), /503 the database is busy; trying again/);
        } finally {
            clearway.runScript = {};
        }
    });

    it("gives up waiting after the wait limit, with an error a Catch node gets", async () => {
        const { n, caught } = await load({ type: "clearway enqueue", template: "stuck", wait: true,
            pollInterval: 0.02, pollMax: 0.02, waitTimeout: 0.1 });
        clearway.runScript = new Proxy({}, { get: () => ["queued"] });
        try {
            const got = next(caught);
            n.receive({ payload: {}, tag: "mine" });
            const msg = await got;
            assert.equal(msg.tag, "mine");
            assert.match(msg.error.message, /not finished within 0.1 s \(last status: queued\)/);
        } finally {
            clearway.runScript = {};
        }
    });

    it("reports a wrong token to a Catch node with the status, and never shows the token", async () => {
        const { n, caught } = await load({ type: "clearway enqueue", template: "tpl1" },
            { token: "wrong-token-5ecret" });
        const got = next(caught);
        n.receive({ payload: {} });
        const msg = await got;
        assert.equal(msg.statusCode, 401);
        assert.match(msg.error.message, /401/);
        assert.equal(msg.error.source.id, "n");
    });

    it("reports an unknown template as a 404", async () => {
        const { n, caught } = await load({ type: "clearway enqueue", template: "unknown" });
        const got = next(caught);
        n.receive({ payload: {} });
        assert.equal((await got).statusCode, 404);
    });

    it("refuses params that are not an object", async () => {
        const { n, caught } = await load({ type: "clearway enqueue", template: "tpl1" });
        const got = next(caught);
        n.receive({ payload: [1, 2] });
        assert.match((await got).error.message, /must be an object/);
    });

    it("exchanges an API key pair through auth.login once, and again after the token is refused", async () => {
        const { n, out } = await load({ type: "clearway run status" },
            { accessKey: fake.ACCESS_KEY, secretKey: fake.SECRET_KEY }, { authType: "apikey" });
        const before = clearway.logins;
        for (let i = 0; i < 2; i++) {
            const got = next(out);
            n.receive({ payload: `r${i}` });
            assert.equal((await got).payload.run, `r${i}`);
        }
        assert.equal(clearway.logins, before + 1);
        const token = clearway.requests.at(-1).headers.authorization.replace("Bearer ", "");
        clearway.tokens.delete(token); // revoked: the next call gets a 401, logs in again and succeeds
        const got = next(out);
        n.receive({ run: "r9" });
        assert.equal((await got).payload.run, "r9");
        assert.equal(clearway.logins, before + 2);
    });

    it("reports a wrong key pair, without the secret", async () => {
        const { n, caught } = await load({ type: "clearway run status" },
            { accessKey: fake.ACCESS_KEY, secretKey: "wrong-secret-key-5ecret" }, { authType: "apikey" });
        const got = next(caught);
        n.receive({ run: "r1" });
        const msg = await got;
        assert.match(msg.error.message, /auth.login refused the API key pair \(401: Invalid access key\)/);
    });

    it("gets OIDC client-credentials tokens from the discovered endpoint and renews them before expiry", async () => {
        clearway.oidcTtl = 1; // renewed a fifth of its life before it ends
        const { n, out } = await load({ type: "clearway on-demand", machine: "m1", endpoint: "e1" },
            { clientId: fake.CLIENT_ID, clientSecret: fake.CLIENT_SECRET },
            { authType: "oidc", issuer: `${clearway.url}/oidc/` });
        const before = clearway.oidcTokens;
        let got = next(out);
        n.receive({ payload: { x0: 1, x1: 2 } });
        assert.equal((await got).payload.y, 3);
        got = next(out);
        n.receive({ payload: { x0: 1, x1: 2 } });
        await got;
        assert.equal(clearway.oidcTokens, before + 1);
        await new Promise((resolve) => setTimeout(resolve, 900));
        got = next(out);
        n.receive({ payload: { x0: 1, x1: 2 } });
        await got;
        assert.equal(clearway.oidcTokens, before + 2);
    });

    it("calls a model on demand: answer in msg.payload, HTTP status in msg.statusCode", async () => {
        const { n, out } = await load({ type: "clearway on-demand", machine: "m1", endpoint: "predict" });
        const got = next(out);
        n.receive({ payload: { x0: 2, x1: 5 } });
        const msg = await got;
        assert.equal(msg.statusCode, 200);
        assert.deepEqual(msg.payload, { y: 7, machine: "m1", endpoint: "predict" });
        assert.equal(clearway.requests.at(-1).path, "/gateway/v1/ondemand/m1/predict");
    });

    it("reports a machine that is down, with its status and problem", async () => {
        const { n, caught } = await load({ type: "clearway on-demand", machine: "down", endpoint: "predict" });
        const got = next(caught);
        n.receive({ payload: { x0: 2, x1: 5 } });
        const msg = await got;
        assert.equal(msg.statusCode, 503);
        assert.equal(msg.payload.detail, "machine down");
    });

    it("ends a call that takes longer than the node's timeout", async () => {
        const { n, caught } = await load({ type: "clearway on-demand", machine: "slow", endpoint: "predict",
            timeout: 0.2 });
        const got = next(caught);
        n.receive({ payload: {} });
        assert.match((await got).error.message, /no answer within/);
    });

    it("speaks Snap4City's format when asked: the token in the body", async () => {
        let { n, out } = await load({ type: "clearway enqueue", template: "tplc", queue: "q", compat: true });
        let got = next(out);
        n.receive({ payload: { a: 1 } });
        assert.deepEqual((await got).payload, { status: "queued", run: "run-compat-tplc" });
        let req = clearway.requests.at(-1);
        assert.equal(req.path, "/clearml/serve/enqueue_task");
        assert.equal(req.headers.authorization, undefined);
        assert.deepEqual(req.body, { access_token: fake.GATEWAY_TOKEN, task_id: "tplc", queue: "q", params: { a: 1 } });
        await helper.unload();
        ({ n, out } = await load({ type: "clearway on-demand", machine: "m2", endpoint: "e2", compat: true }));
        got = next(out);
        n.receive({ payload: { x0: 1, x1: 1 } });
        assert.equal((await got).payload.y, 2);
        req = clearway.requests.at(-1);
        assert.equal(req.path, "/clearml/serve/ondemand");
        assert.deepEqual(req.body, { access_token: fake.GATEWAY_TOKEN, machine_id: "m2", endpoint: "e2",
            params: { x0: 1, x1: 1 } });
    });

    it("reports a refused stream to a Catch node and tries again", async () => {
        const before = clearway.requests.filter((r) => r.path === "/events/stream").length;
        const { caught } = await load({ type: "clearway events" }, { token: "wrong-token-5ecret" });
        const msg = await next(caught);
        assert.equal(msg.statusCode, 401);
        assert.match(msg.error.message, /events stream: 401 Invalid token/);
        await next(caught); // retried after the server's retry delay (none sent here: 2 s)
        assert.ok(clearway.requests.filter((r) => r.path === "/events/stream").length >= before + 2);
    });

    it("sends one message per notification and reconnects with Last-Event-ID", async () => {
        const received = [];
        const { out } = await new Promise((resolve) => {
            load({ type: "clearway events", kinds: "task.*" }).then(resolve);
        });
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`got ${received.length} events`)), 5000);
            out.on("input", (msg) => {
                received.push(msg);
                if (received.length === 3) {
                    clearTimeout(timer);
                    resolve();
                }
            });
        });
        assert.deepEqual(received.map((m) => m.payload.id), ["e1", "e2", "e3"]);
        assert.equal(received[0].topic, "task.completed");
        assert.equal(received[2].eventId, "3");
        assert.equal(clearway.streamConnections[0].query, "?kind=task.*");
        assert.equal(clearway.streamConnections[0].lastEventId, undefined);
        assert.equal(clearway.streamConnections[1].lastEventId, "2");
    });
});

describe("SseParser", () => {
    const { SseParser } = require("../nodes/lib/sse.js");

    it("parses events split anywhere, CRLF included, and skips comments", () => {
        const events = [];
        const parser = new SseParser((e) => events.push(e));
        const text = ": hi\r\nid: 7\r\ndata: {\"a\":1}\r\n\r\nevent: error\ndata: x\ndata: y\n\n";
        for (const ch of text) {
            parser.feed(ch);
        }
        assert.deepEqual(events, [
            { id: "7", event: "message", data: "{\"a\":1}" },
            { id: undefined, event: "error", data: "x\ny" },
        ]);
    });
});

describe("editor files", () => {
    const fs = require("node:fs");
    const path = require("node:path");
    const pkg = require("../package.json");

    for (const [name, file] of Object.entries(pkg["node-red"].nodes)) {
        it(`${name}: the editor script compiles and registers the type its template and help name`, () => {
            const html = fs.readFileSync(path.join(__dirname, "..", file.replace(/\.js$/, ".html")), "utf8");
            const script = html.match(/<script type="text\/javascript">([\s\S]*?)<\/script>/)[1];
            const registered = [];
            const RED = { nodes: { registerType: (type, def) => registered.push([type, def]) },
                validators: { number: () => () => true, regex: () => () => true } };
            new Function("RED", "$", script)(RED, () => ({ on: () => ({ trigger: () => {} }) }));
            assert.equal(registered.length, 1);
            const [type, def] = registered[0];
            assert.ok(html.includes(`data-template-name="${type}"`) && html.includes(`data-help-name="${type}"`));
            const prefix = def.category === "config" ? "node-config-input-" : "node-input-";
            for (const key of [...Object.keys(def.defaults), ...Object.keys(def.credentials || {})]) {
                assert.ok(html.includes(`id="${prefix}${key}"`), `${type}: no input for ${key}`);
            }
        });
    }
});
