// The gateway's XMPP session against a real Prosody (Debian) with a self-signed certificate:
// STARTTLS and direct TLS verify the server (refused without trust; accepted with the CA file or
// with verification switched off), the unencrypted switches, reconnection after a Prosody
// restart, and chat messages both ways with a slixmpp device.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { waitUntil } from "../../../test/support/poll.ts";
import { startDevice } from "./test/device.ts";
import { NO_TLS_DOMAIN, PLAIN_ONLY_DOMAIN, startProsody, WRONG_NAME_DOMAIN, type Prosody } from "./test/prosody.ts";
import { XmppSession, type SessionOptions } from "./session.ts";

let prosody: Prosody;
beforeAll(async () => {
  prosody = await startProsody({ accounts: { gateway: "gw-secret", device: "dev-secret" } });
}, 60_000);
afterAll(() => prosody?.stop());

interface Observed {
  online: Array<{ jid: string; secure: boolean }>;
  offline: string[];
  messages: Array<{ from: string; body: string }>;
}

function session(over: Partial<SessionOptions>, delays = { minDelayMs: 200, maxDelayMs: 1000 }): { s: XmppSession; seen: Observed } {
  const seen: Observed = { online: [], offline: [], messages: [] };
  const s = new XmppSession(
    {
      jid: "gateway@localhost",
      password: "gw-secret",
      host: "127.0.0.1",
      port: prosody.port,
      directTls: false,
      disableStarttls: false,
      forceStarttls: true,
      plainWithoutTls: true,
      tls: { rejectUnauthorized: true },
      stepTimeoutMs: 10_000,
      keepaliveMs: 60_000,
      ...over,
    },
    delays,
    {
      online: (jid, secure) => seen.online.push({ jid, secure }),
      offline: (reason) => seen.offline.push(reason),
      message: (from, body) => seen.messages.push({ from, body }),
    },
  );
  s.start();
  return { s, seen };
}

const ca = () => readFileSync(prosody.certPath);

describe("TLS", () => {
  test("STARTTLS: a self-signed server is refused by default, and retried with backoff", async () => {
    const { s, seen } = session({});
    try {
      await waitUntil(() => seen.offline.length >= 2, 20_000, "two failed attempts");
      expect(seen.online).toEqual([]);
      expect(seen.offline[0]).toMatch(/self[- ]signed/i);
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("STARTTLS with the server's certificate as CA: logged in, encrypted", async () => {
    const { s, seen } = session({ tls: { ca: ca(), rejectUnauthorized: true } });
    try {
      await waitUntil(() => seen.online.length > 0, 20_000, "session");
      expect(seen.online[0]!.secure).toBe(true);
      expect(seen.online[0]!.jid).toStartWith("gateway@localhost/");
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("the CA does not help a wrong name: the certificate must name the JID's domain", async () => {
    const { s, seen } = session({ jid: `gateway@${WRONG_NAME_DOMAIN}`, tls: { ca: ca(), rejectUnauthorized: true } });
    try {
      await waitUntil(() => seen.offline.length > 0, 20_000, "a failed attempt");
      expect(seen.online).toEqual([]);
      expect(seen.offline[0]).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|does not match|not in the cert/i);
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("verification off: encrypted but unverified session", async () => {
    const { s, seen } = session({ tls: { rejectUnauthorized: false } });
    try {
      await waitUntil(() => seen.online.length > 0, 20_000, "session");
      expect(seen.online[0]!.secure).toBe(true);
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("direct TLS (use_ssl): refused without trust, logged in with the CA", async () => {
    const refused = session({ directTls: true, port: prosody.tlsPort });
    try {
      await waitUntil(() => refused.seen.offline.length > 0, 20_000, "a failed attempt");
      expect(refused.seen.offline[0]).toMatch(/self[- ]signed/i);
    } finally {
      await refused.s.stop();
    }
    const ok = session({ directTls: true, port: prosody.tlsPort, tls: { ca: ca(), rejectUnauthorized: true } });
    try {
      await waitUntil(() => ok.seen.online.length > 0, 20_000, "session");
      expect(ok.seen.online[0]!.secure).toBe(true);
    } finally {
      await ok.s.stop();
    }
  }, 40_000);

  test("disable_starttls: an unencrypted session; PLAIN refused there when unencrypted_plain_auth is false", async () => {
    const plain = session({ disableStarttls: true });
    try {
      await waitUntil(() => plain.seen.online.length > 0, 20_000, "session");
      expect(plain.seen.online[0]!.secure).toBe(false);
    } finally {
      await plain.s.stop();
    }
    const jid = `gateway@${PLAIN_ONLY_DOMAIN}`;
    const refused = session({ jid, disableStarttls: true, plainWithoutTls: false });
    try {
      await waitUntil(() => refused.seen.offline.length > 0, 20_000, "a refused attempt");
      expect(refused.seen.online).toEqual([]);
      expect(refused.seen.offline[0]).toContain("unencrypted_plain_auth is false");
    } finally {
      await refused.s.stop();
    }
    const allowed = session({ jid, disableStarttls: true, plainWithoutTls: true });
    try {
      await waitUntil(() => allowed.seen.online.length > 0, 20_000, "a PLAIN session");
    } finally {
      await allowed.s.stop();
    }
  }, 30_000);

  test("force_starttls: a server without STARTTLS is refused; without the switch the session is unencrypted", async () => {
    const jid = `gateway@${NO_TLS_DOMAIN}`;
    const refused = session({ jid });
    try {
      await waitUntil(() => refused.seen.offline.length > 0, 20_000, "a refused attempt");
      expect(refused.seen.online).toEqual([]);
      expect(refused.seen.offline[0]).toContain("does not offer STARTTLS");
    } finally {
      await refused.s.stop();
    }
    const allowed = session({ jid, forceStarttls: false });
    try {
      await waitUntil(() => allowed.seen.online.length > 0, 20_000, "an unencrypted session");
      expect(allowed.seen.online[0]!.secure).toBe(false);
    } finally {
      await allowed.s.stop();
    }
  }, 30_000);

  test("a wrong password is reported in words and retried", async () => {
    const { s, seen } = session({ password: "wrong", tls: { ca: ca(), rejectUnauthorized: true } });
    try {
      await waitUntil(() => seen.offline.length > 0, 20_000, "a failed attempt");
      expect(seen.offline[0]).toMatch(/not-authorized/);
    } finally {
      await s.stop();
    }
  }, 30_000);
});

describe("messages and reconnect", () => {
  test("a slixmpp device's chat message arrives; the gateway's reaches the device; both survive a Prosody restart", async () => {
    const { s, seen } = session({ tls: { ca: ca(), rejectUnauthorized: true } });
    const device = startDevice("device@localhost/TMP_1101", "dev-secret", prosody.port, "gateway@localhost");
    try {
      await waitUntil(() => seen.online.length > 0, 20_000, "gateway session");
      await device.ready();
      device.send('{"serialNumber":"SN-1","temp":21.5}');
      await waitUntil(() => seen.messages.length > 0, 15_000, "the device's message at the gateway");
      expect(seen.messages[0]).toEqual({ from: "device@localhost/TMP_1101", body: '{"serialNumber":"SN-1","temp":21.5}' });
      await s.sendMessage("device@localhost/TMP_1101", '{"shared":"on"}');
      expect((await device.waitFor((m) => m.body === '{"shared":"on"}', "the gateway's message")).from).toStartWith("gateway@localhost/");

      await prosody.restart();
      await waitUntil(() => seen.online.length > 1, 30_000, "the gateway back after the restart");
      expect(seen.offline.length).toBeGreaterThan(0);
      await device.ready(1, 30_000);
      device.send('{"serialNumber":"SN-1","temp":22}');
      await waitUntil(() => seen.messages.length > 1, 15_000, "a message after the restart");
      const before = device.received().length;
      await s.sendMessage("device@localhost/TMP_1101", "after restart");
      await device.waitFor((m) => m.body === "after restart", "downlink after the restart", 15_000, before);
    } finally {
      await device.stop();
      await s.stop();
    }
  }, 90_000);

  test("a server that stops answering (SIGSTOP) is noticed by the keepalive ping; the session comes back after SIGCONT", async () => {
    const { s, seen } = session({ tls: { ca: ca(), rejectUnauthorized: true }, keepaliveMs: 300, stepTimeoutMs: 1500 });
    const pid = prosody.pid()!;
    let frozen = false;
    try {
      await waitUntil(() => seen.online.length > 0, 20_000, "session");
      process.kill(pid, "SIGSTOP");
      frozen = true;
      await waitUntil(() => seen.offline.length > 0, 20_000, "the frozen server noticed");
      expect(seen.offline[0]).toContain("keepalive ping");
      process.kill(pid, "SIGCONT");
      frozen = false;
      await waitUntil(() => seen.online.length > 1, 30_000, "the session back");
    } finally {
      if (frozen) process.kill(pid, "SIGCONT");
      await s.stop();
    }
  }, 60_000);

  test("sending while disconnected fails with a reason instead of hanging", async () => {
    const { s } = session({ port: 1 });
    try {
      await expect(s.sendMessage("device@localhost/x", "hi")).rejects.toThrow(/not connected/);
    } finally {
      await s.stop();
    }
  });
});
