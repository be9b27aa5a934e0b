#!/usr/bin/env python3
# An OCPP 1.6-J charge point written directly against the frame format (OCPP-J 1.6 section 4) with
# Debian's python3-websockets: no OCPP library, so the gateway's Central System is checked by code
# that shares nothing with it. Driven by the test over stdin/stdout, one line each:
#   stdin:  a raw text frame to send (sent as is, so malformed frames can be sent too); CLOSE ends
#   stdout: OPEN <subprotocol> | REFUSED <http status> | CALL <frame> (a CALL from the Central
#           System, answered at once) | RECV <frame> (anything else received) | CLOSED <code>
# Answers to the Central System's CALLs: DataTransfer -> {"status": "Accepted", "data": <its data>};
# Reset, ChangeConfiguration, RemoteStartTransaction, ... -> {"status": "Accepted"};
# an action named in --reject gets a CALLERROR NotSupported.
import argparse
import asyncio
import json
import ssl
import sys

import websockets


def out(*parts):
    print(*parts, flush=True)


def answer(frame, reject):
    _, uid, action, payload = frame
    if action in reject:
        return [4, uid, "NotSupported", f"{action} is not supported by this charge point", {}]
    if action == "DataTransfer":
        return [3, uid, {"status": "Accepted", "data": payload.get("data")}]
    if action == "GetConfiguration":
        return [3, uid, {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "10"}]}]
    return [3, uid, {"status": "Accepted"}]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--auth", default=None, help="Authorization header value")
    ap.add_argument("--protocol", default="ocpp1.6", help='subprotocol offered; "none" offers none')
    ap.add_argument("--reject", default="", help="comma-separated actions answered with a CALLERROR")
    ap.add_argument("--cafile", default=None, help="wss://: trust this certificate (PEM)")
    args = ap.parse_args()
    headers = {"Authorization": args.auth} if args.auth else {}
    protocols = None if args.protocol == "none" else [args.protocol]
    reject = set(a for a in args.reject.split(",") if a)
    try:
        tls = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
        ws = await websockets.connect(args.url, subprotocols=protocols, extra_headers=headers, ping_interval=None, ssl=tls)
    except websockets.exceptions.InvalidStatusCode as e:
        out("REFUSED", e.status_code)
        return
    out("OPEN", ws.subprotocol or "none")

    async def reader():
        try:
            async for text in ws:
                try:
                    frame = json.loads(text)
                except ValueError:
                    frame = None
                if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2:
                    out("CALL", text)
                    await ws.send(json.dumps(answer(frame, reject)))
                else:
                    out("RECV", text)
        except websockets.exceptions.ConnectionClosed:
            pass
        out("CLOSED", ws.close_code)

    read_task = asyncio.ensure_future(reader())
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "CLOSE" or read_task.done():
            break
        await ws.send(line.rstrip("\n"))
    await ws.close()
    await read_task


asyncio.run(main())
