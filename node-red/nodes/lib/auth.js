"use strict";
/**
 * Bearer tokens for a clearway-server config node: a gateway token as given, an API key pair exchanged through
 * the ClearML `auth.login` endpoint, or OIDC client credentials exchanged at the issuer's token endpoint.
 * Exchanged tokens are cached and renewed shortly before they expire (or after the server refused them).
 * No secret ever goes into an error message: every message passes through `redact`.
 */

const RENEW_MARGIN_MS = 60 * 1000;
const DEFAULT_LIFETIME_MS = 10 * 60 * 1000; // a token that does not say when it expires

class ClearwayError extends Error {
    /** An error with the HTTP status (0 when no answer came) and the answer's body when there was one. */
    constructor(message, statusCode, body) {
        super(message);
        this.name = "ClearwayError";
        this.statusCode = statusCode || 0;
        if (body !== undefined) {
            this.body = body;
        }
    }
}

/** A JWT's `exp` in ms since the epoch, or null for an opaque token. */
function jwtExpiry(token) {
    const parts = String(token).split(".");
    if (parts.length !== 3) {
        return null;
    }
    try {
        const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
        return typeof claims.exp === "number" ? claims.exp * 1000 : null;
    } catch (_err) {
        return null;
    }
}

/** A signal that aborts when either does (AbortSignal.any is missing before Node.js 20.3). */
function anySignal(a, b) {
    if (typeof AbortSignal.any === "function") {
        return AbortSignal.any([a, b]);
    }
    const controller = new AbortController();
    for (const s of [a, b]) {
        if (s.aborted) {
            controller.abort(s.reason);
        }
        s.addEventListener("abort", () => controller.abort(s.reason), { once: true });
    }
    return controller.signal;
}

/** fetch with a deadline (none when timeoutMs is null: a stream); network failures and timeouts become
 * ClearwayErrors (status 0). */
async function fetchWithTimeout(url, options, timeoutMs, what) {
    let signal = options.signal;
    if (timeoutMs !== null) {
        signal = signal ? anySignal(AbortSignal.timeout(timeoutMs), signal) : AbortSignal.timeout(timeoutMs);
    }
    try {
        return await fetch(url, { ...options, signal });
    } catch (err) {
        if (options.signal && options.signal.aborted) {
            throw new ClearwayError(`${what}: cancelled`, 0);
        }
        if (err && (err.name === "TimeoutError" || err.name === "AbortError")) {
            throw new ClearwayError(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s`, 0);
        }
        const cause = err && err.cause && err.cause.code ? ` (${err.cause.code})` : "";
        throw new ClearwayError(`${what}: ${err && err.message ? err.message : err}${cause}`, 0);
    }
}

/** The body of an answer: parsed JSON when it says it is JSON (or looks like it), else text. */
async function readBody(response) {
    const text = await response.text();
    const type = response.headers.get("content-type") || "";
    if (type.includes("json") || /^\s*[[{]/.test(text)) {
        try {
            return JSON.parse(text);
        } catch (_err) {
            return text;
        }
    }
    return text;
}

/** A short reason from an error body: a JSON problem's detail/title, a ClearML envelope's result_msg, or text. */
function reason(body) {
    if (body && typeof body === "object") {
        if (body.meta && body.meta.result_msg) {
            return body.meta.result_msg;
        }
        return body.detail || body.title || body.error || body.message || JSON.stringify(body).slice(0, 200);
    }
    return String(body || "").slice(0, 200);
}

class TokenSource {
    /**
     * @param {object} options url (the server), kind ("token" | "apikey" | "oidc"), issuer, scope, timeoutMs
     * @param {object} credentials token | accessKey + secretKey | clientId + clientSecret
     */
    constructor(options, credentials) {
        this.url = options.url;
        this.kind = options.kind || "token";
        this.issuer = (options.issuer || "").replace(/\/+$/, "");
        this.scope = options.scope || "";
        this.timeoutMs = options.timeoutMs || 30000;
        this.credentials = credentials || {};
        this.cached = null; // {token, renewAt}
        this.pending = null;
        this.tokenEndpoint = null;
    }

    /** Every secret this source knows, and the tokens it obtained, for redaction. */
    secrets() {
        const c = this.credentials;
        const values = [c.token, c.secretKey, c.clientSecret, c.accessKey, c.clientId];
        if (this.cached) {
            values.push(this.cached.token);
        }
        return values.filter((v) => typeof v === "string" && v.length >= 4);
    }

    /** The text with every secret replaced by ***. */
    redact(text) {
        let out = String(text);
        for (const secret of this.secrets()) {
            out = out.split(secret).join("***");
        }
        return out;
    }

    /** A bearer token, obtained or renewed as needed. */
    async bearer() {
        if (this.kind === "token") {
            if (!this.credentials.token) {
                throw new ClearwayError("clearway-server: no gateway token set", 0);
            }
            return this.credentials.token;
        }
        if (this.cached && Date.now() < this.cached.renewAt) {
            return this.cached.token;
        }
        if (!this.pending) {
            this.pending = this._obtain().finally(() => {
                this.pending = null;
            });
        }
        return this.pending;
    }

    /** Forget an exchanged token the server refused, so the next call obtains a fresh one. */
    invalidate(token) {
        if (this.cached && (token === undefined || this.cached.token === token)) {
            this.cached = null;
        }
    }

    async _obtain() {
        try {
            const got = this.kind === "oidc" ? await this._clientCredentials() : await this._login();
            const now = Date.now();
            const expires = got.expiresAt || now + DEFAULT_LIFETIME_MS;
            const margin = Math.min(RENEW_MARGIN_MS, (expires - now) / 5);
            this.cached = { token: got.token, renewAt: expires - margin };
            return got.token;
        } catch (err) {
            err.message = this.redact(err.message);
            throw err;
        }
    }

    async _login() {
        const { accessKey, secretKey } = this.credentials;
        if (!accessKey || !secretKey) {
            throw new ClearwayError("clearway-server: API key pair not set", 0);
        }
        const basic = Buffer.from(`${accessKey}:${secretKey}`).toString("base64");
        const response = await fetchWithTimeout(
            `${this.url}/auth.login`,
            { method: "POST", headers: { Authorization: `Basic ${basic}` } },
            this.timeoutMs,
            "auth.login",
        );
        const body = await readBody(response);
        const token = body && body.data && body.data.token;
        if (!response.ok || !token) {
            throw new ClearwayError(`auth.login refused the API key pair (${response.status}: ${reason(body)})`,
                response.status === 200 ? 502 : response.status);
        }
        return { token, expiresAt: jwtExpiry(token) };
    }

    async _discover() {
        if (this.tokenEndpoint) {
            return this.tokenEndpoint;
        }
        if (!this.issuer) {
            throw new ClearwayError("clearway-server: no OIDC issuer set", 0);
        }
        const response = await fetchWithTimeout(`${this.issuer}/.well-known/openid-configuration`, {},
            this.timeoutMs, "OIDC discovery");
        const body = await readBody(response);
        if (!response.ok || !body || typeof body.token_endpoint !== "string") {
            throw new ClearwayError(`OIDC discovery at ${this.issuer} gave no token_endpoint (${response.status})`,
                response.status === 200 ? 502 : response.status);
        }
        this.tokenEndpoint = body.token_endpoint;
        return this.tokenEndpoint;
    }

    async _clientCredentials() {
        const { clientId, clientSecret } = this.credentials;
        if (!clientId || !clientSecret) {
            throw new ClearwayError("clearway-server: OIDC client id and secret not set", 0);
        }
        const form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId,
            client_secret: clientSecret });
        if (this.scope) {
            form.set("scope", this.scope);
        }
        const response = await fetchWithTimeout(await this._discover(), {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
            body: form,
        }, this.timeoutMs, "OIDC token endpoint");
        const body = await readBody(response);
        const token = body && body.access_token;
        if (!response.ok || !token) {
            const why = body && (body.error_description || body.error) ? body.error_description || body.error
                : response.status;
            throw new ClearwayError(`the OIDC issuer refused the client credentials (${why})`,
                response.status === 200 ? 502 : response.status);
        }
        const expiresIn = Number(body.expires_in);
        const expiresAt = expiresIn > 0 ? Date.now() + expiresIn * 1000 : jwtExpiry(token);
        return { token, expiresAt };
    }
}

module.exports = { ClearwayError, TokenSource, fetchWithTimeout, readBody, reason, jwtExpiry };
