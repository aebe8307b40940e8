"use strict";
/** A small HTTP server standing in for Clearway in the unit tests: the gateway routes, auth.login, an OIDC issuer,
 * Snap4City's compat routes and the live stream, with the shapes of GATEWAY_CONTRACT.md. */

const http = require("node:http");

const GATEWAY_TOKEN = "gw-token-5ecret-value";
const ACCESS_KEY = "AK-node-red-test";
const SECRET_KEY = "sk-very-5ecret-value";
const CLIENT_ID = "node-red-client";
const CLIENT_SECRET = "oidc-client-5ecret";

function jwt(claims) {
    const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    return `${part({ alg: "none" })}.${part(claims)}.sig`;
}

class FakeClearway {
    constructor() {
        this.tokens = new Set([GATEWAY_TOKEN]);
        this.requests = [];
        this.logins = 0;
        this.oidcTokens = 0;
        this.runReads = {};
        this.runScript = {}; // run -> statuses returned by successive reads
        this.streamConnections = [];
        this.server = http.createServer((req, res) => this.handle(req, res));
    }

    async start() {
        await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        return this;
    }

    async stop() {
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }

    issue(prefix, ttlSec) {
        const token = jwt({ sub: prefix, exp: Math.floor(Date.now() / 1000) + ttlSec, n: Math.random() });
        this.tokens.add(token);
        return token;
    }

    async handle(req, res) {
        const chunks = [];
        for await (const chunk of req) {
            chunks.push(chunk);
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        let body = null;
        try {
            body = raw ? JSON.parse(raw) : null;
        } catch (_err) {
            body = raw;
        }
        const url = new URL(req.url, this.url);
        this.requests.push({ method: req.method, path: url.pathname, headers: req.headers, body });
        const send = (status, payload, headers = {}) => {
            res.writeHead(status, { "Content-Type": "application/json", ...headers });
            res.end(JSON.stringify(payload));
        };
        const problem = (status, detail) => send(status, { type: "about:blank", title: "error", status, detail },
            { "Content-Type": "application/problem+json" });
        const bearer = (req.headers.authorization || "").replace(/^Bearer /, "");
        const path = url.pathname;

        if (path === "/auth.login") {
            const basic = Buffer.from((req.headers.authorization || "").replace(/^Basic /, ""), "base64").toString();
            if (basic !== `${ACCESS_KEY}:${SECRET_KEY}`) {
                send(401, { meta: { result_code: 401, result_msg: "Invalid access key" }, data: {} });
                return;
            }
            this.logins += 1;
            send(200, { meta: { result_code: 200, result_msg: "OK" }, data: { token: this.issue("login", this.loginTtl || 3600) } });
            return;
        }
        if (path === "/oidc/.well-known/openid-configuration") {
            send(200, { issuer: `${this.url}/oidc`, token_endpoint: `${this.url}/oidc/token` });
            return;
        }
        if (path === "/oidc/token") {
            const form = new URLSearchParams(raw);
            if (form.get("grant_type") !== "client_credentials" || form.get("client_id") !== CLIENT_ID
                || form.get("client_secret") !== CLIENT_SECRET) {
                send(401, { error: "unauthorized_client" });
                return;
            }
            this.oidcTokens += 1;
            const ttl = this.oidcTtl || 300;
            send(200, { access_token: this.issue("oidc", ttl), expires_in: ttl, token_type: "Bearer" });
            return;
        }
        if (path.startsWith("/clearml/serve/")) {
            if (!body || !this.tokens.has(body.access_token)) {
                problem(401, "bad token");
                return;
            }
            if (path === "/clearml/serve/enqueue_task") {
                send(200, { status: "queued", run: `run-compat-${body.task_id}` });
            } else {
                send(200, { y: body.params.x0 + body.params.x1, machine: body.machine_id, endpoint: body.endpoint });
            }
            return;
        }
        if (!this.tokens.has(bearer)) {
            problem(401, "Invalid token");
            return;
        }
        let m;
        if ((m = path.match(/^\/gateway\/v1\/enqueue\/([^/]+)$/)) && req.method === "POST") {
            if (m[1] === "unknown") {
                problem(404, "no such template");
                return;
            }
            const run = `run-${m[1]}-${this.requests.length}`;
            send(202, { run, status: "queued" });
            return;
        }
        if ((m = path.match(/^\/gateway\/v1\/runs\/([^/]+)$/))) {
            const run = decodeURIComponent(m[1]);
            const script = this.runScript[run] || ["queued", "in_progress", "completed"];
            const n = (this.runReads[run] = (this.runReads[run] || 0) + 1);
            const status = script[Math.min(n, script.length) - 1];
            if (status === "unavailable") {
                problem(503, "the database is busy");
                return;
            }
            send(200, {
                run, status, status_message: "", created: "2026-01-01T00:00:00+00:00", started: null, completed: null,
                metrics: status === "completed" ? { loss: { total: { last: 0.1, min: 0.1, max: 0.9 } } } : {},
                artifacts: status === "completed" ? ["model.pkl"] : [],
            });
            return;
        }
        if ((m = path.match(/^\/gateway\/v1\/ondemand\/([^/]+)\/([^/]+)$/))) {
            if (m[1] === "slow") {
                return; // never answers: the node's timeout must end the call
            }
            if (m[1] === "down") {
                problem(503, "machine down");
                return;
            }
            send(200, { y: body.x0 + body.x1, machine: m[1], endpoint: m[2] });
            return;
        }
        if (path === "/events/stream") {
            this.streamConnections.push({ lastEventId: req.headers["last-event-id"], query: url.search });
            res.writeHead(200, { "Content-Type": "text/event-stream" });
            res.write("retry: 50\n\n");
            const after = Number(req.headers["last-event-id"] || 0);
            const events = [1, 2, 3].filter((id) => id > after);
            const batch = this.streamConnections.length === 1 ? events.slice(0, 2) : events;
            for (const id of batch) {
                const event = { id: `e${id}`, type: "task.completed", timestamp: "2026-01-01T00:00:00+00:00",
                    organization: "default", data: { task: { id: `t${id}` } } };
                res.write(`id: ${id}\r\ndata: ${JSON.stringify(event)}\r\n\r\n`);
            }
            res.write(": keepalive\n\n");
            if (this.streamConnections.length === 1) {
                res.end(); // the first connection drops: the node must come back with Last-Event-ID: 2
            }
            return;
        }
        problem(404, "not found");
    }
}

module.exports = { FakeClearway, GATEWAY_TOKEN, ACCESS_KEY, SECRET_KEY, CLIENT_ID, CLIENT_SECRET };
