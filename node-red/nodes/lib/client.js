"use strict";
/** Calls to a Clearway server on behalf of a node: bearer token, JSON body, deadline, one retry after a 401 when
 * the token was exchanged (it may have expired or been revoked since). */

const { ClearwayError, fetchWithTimeout, readBody, reason } = require("./auth");

/**
 * @param {object} server the clearway-server config node (url, tokens: TokenSource)
 * @param {object} req method, path (starting with /), json (a body to send), timeoutMs, what (for messages),
 *   signal (to cancel), bodyToken (true: Snap4City's compat routes, the token goes in the body as access_token)
 * @returns {Promise<{status: number, headers: object, body: any}>} whatever the status
 */
async function call(server, req) {
    const what = req.what || `${req.method || "GET"} ${req.path}`;
    for (let attempt = 0; ; attempt++) {
        const token = await server.tokens.bearer();
        const headers = { Accept: "application/json" };
        let body;
        if (req.json !== undefined || req.bodyToken) {
            headers["Content-Type"] = "application/json";
            const json = req.bodyToken ? { access_token: token, ...req.json } : req.json;
            body = JSON.stringify(json === undefined ? null : json);
        }
        if (!req.bodyToken) {
            headers.Authorization = `Bearer ${token}`;
        }
        const response = await fetchWithTimeout(`${server.url}${req.path}`,
            { method: req.method || "GET", headers, body, signal: req.signal }, req.timeoutMs || 30000, what);
        const answer = { status: response.status, headers: Object.fromEntries(response.headers), body: null };
        answer.body = await readBody(response);
        if (response.status === 401 && server.tokens.kind !== "token" && attempt === 0) {
            server.tokens.invalidate(token);
            continue;
        }
        return answer;
    }
}

/** The answer when it is a 2xx; otherwise a ClearwayError naming the status and the server's reason. */
function ok(server, answer, what) {
    if (answer.status >= 200 && answer.status < 300) {
        return answer;
    }
    const message = server.tokens.redact(`${what}: ${answer.status} ${reason(answer.body)}`);
    throw new ClearwayError(message, answer.status, answer.body);
}

/** An error made safe to report: its message without any secret of the server's credentials. */
function safe(server, err) {
    const out = err instanceof ClearwayError ? err : new ClearwayError(String(err && err.message ? err.message : err), 0);
    out.message = server ? server.tokens.redact(out.message) : out.message;
    return out;
}

module.exports = { call, ok, safe, ClearwayError };
