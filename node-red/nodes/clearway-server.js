"use strict";
/** Config node `clearway-server`: the server's URL and one kind of credential, shared by the Clearway nodes. */

const { TokenSource } = require("./lib/auth");

module.exports = function (RED) {
    function ClearwayServerNode(config) {
        RED.nodes.createNode(this, config);
        this.name = config.name;
        this.url = String(config.url || "").trim().replace(/\/+$/, "");
        this.authType = config.authType || "token";
        this.tokens = new TokenSource({
            url: this.url,
            kind: this.authType,
            issuer: config.issuer,
            scope: config.scope,
            timeoutMs: (Number(config.timeout) || 30) * 1000,
        }, this.credentials);
    }

    RED.nodes.registerType("clearway-server", ClearwayServerNode, {
        credentials: {
            token: { type: "password" },
            accessKey: { type: "password" },
            secretKey: { type: "password" },
            clientId: { type: "text" },
            clientSecret: { type: "password" },
        },
    });
};
