#!/usr/bin/env python3
# An XMPP device for the tests, made with slixmpp (Debian python3-slixmpp, the library upstream's
# connector uses): it logs in as its own account, then
#   stdin  "send <body>"      sends <body> as a chat message to the gateway's JID,
#   stdin  "burst <n> <body>" sends <body> n times ("{i}" in it is replaced by 0..n-1),
#   stdout "READY <jid>"      once the session is up,
#   stdout "RECV <json>"      for every message received: {"from": ..., "body": ...}.
# Usage: device.py JID PASSWORD HOST PORT GATEWAY_JID
import asyncio
import json
import sys
import threading

import slixmpp


class Device(slixmpp.ClientXMPP):
    def __init__(self, jid, password, gateway):
        super().__init__(jid, password)
        self.gateway = gateway
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.stopping = False

    async def on_start(self, _event):
        self.send_presence()
        print("READY", self.boundjid.full, flush=True)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal"):
            print("RECV", json.dumps({"from": str(msg["from"]), "body": msg["body"]}), flush=True)

    def on_disconnected(self, _event):
        if not self.stopping:
            print("DISCONNECTED", flush=True)

    def command(self, line):
        verb, _, rest = line.rstrip("\n").partition(" ")
        if verb == "send":
            self.send_message(mto=self.gateway, mbody=rest, mtype="chat")
            print("SENT 1", flush=True)
        elif verb == "burst":
            n, _, body = rest.partition(" ")
            for i in range(int(n)):
                self.send_message(mto=self.gateway, mbody=body.replace("{i}", str(i)), mtype="chat")
            print("SENT", n, flush=True)


def main():
    jid, password, host, port, gateway = sys.argv[1:6]
    dev = Device(jid, password, gateway)
    dev["feature_mechanisms"].unencrypted_plain = True
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    dev.loop = loop

    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(dev.command, line)
        dev.stopping = True
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=read_stdin, daemon=True).start()
    # Reconnect when the server goes away (prosody restart tests), like a device would.
    dev.add_event_handler("disconnected", lambda _e: None if dev.stopping else loop.call_later(0.5, dev.connect, (host, int(port)), False, False, True))
    dev.connect((host, int(port)), use_ssl=False, force_starttls=False, disable_starttls=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
