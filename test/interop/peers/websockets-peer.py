#!/usr/bin/env python3
"""An echo peer built on Python's websockets (the 10.x asyncio API) for silverback's interop tests.

    websockets-peer.py server [--compress]       listen on 127.0.0.1, on a port the OS picks
    websockets-peer.py client URL [--compress]   connect to URL

Either way the peer echoes every data message back with its type. Messages of 64 KiB or more go
back as several frames (send() with a list of chunks), so the other side reads fragmented
messages. Text messages that start with "cmd:" are commands instead:

    cmd:ping <data>            send a ping carrying <data>; report the pong
    cmd:close <code> <reason>  start the closing handshake with that code and reason

The peer reports on stdout, one JSON object per line, with the connection's number in "conn":
listening {port}, open {extensions} (the negotiated Sec-WebSocket-Extensions value), pong {data},
close {code, reason} (the close frame the other side sent), error {message}. The client exits
once its connection has closed; the server runs until it is killed.
"""

import argparse
import asyncio
import itertools
import json
import sys

import websockets

FRAGMENT_THRESHOLD = 64 * 1024
CHUNK = 16 * 1024

# Pings and size limits off: the tests decide when pings go out, and send 1 MiB messages.
OPTIONS = {"max_size": None, "ping_interval": None}

connection_numbers = itertools.count(1)


def report(event, conn=None, **fields):
    line = {"event": event, **({"conn": conn} if conn is not None else {}), **fields}
    print(json.dumps(line), flush=True)


async def report_pong(waiter, conn, data):
    await waiter
    report("pong", conn, data=data)


async def command(ws, conn, text, tasks):
    name, _, arg = text.partition(" ")
    if name == "ping":
        # ping() returns a future that resolves when the matching pong arrives; wait for it
        # aside, so the echo loop goes on reading (which is what delivers the pong).
        task = asyncio.ensure_future(report_pong(await ws.ping(arg), conn, arg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    elif name == "close":
        code, _, reason = arg.partition(" ")
        await ws.close(int(code), reason)
    else:
        report("error", conn, message=f"unknown command {name!r}")


async def echo(ws):
    conn = next(connection_numbers)
    report("open", conn, extensions=ws.response_headers.get("Sec-WebSocket-Extensions", ""))
    tasks = set()
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("cmd:"):
                await command(ws, conn, message[4:], tasks)
            elif len(message) >= FRAGMENT_THRESHOLD:
                await ws.send([message[i : i + CHUNK] for i in range(0, len(message), CHUNK)])
            else:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass  # close codes other than 1000 and 1001 end the loop with this
    await ws.wait_closed()
    report("close", conn, code=ws.close_code, reason=ws.close_reason)


async def serve(compression):
    async with websockets.serve(
        lambda ws, *_: echo(ws), "127.0.0.1", 0, compression=compression, **OPTIONS
    ) as server:
        report("listening", port=server.sockets[0].getsockname()[1])
        await asyncio.Future()


async def connect(url, compression):
    async with websockets.connect(url, compression=compression, **OPTIONS) as ws:
        await echo(ws)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("url", nargs="?")
    parser.add_argument("--compress", action="store_true")
    args = parser.parse_args()
    compression = "deflate" if args.compress else None
    try:
        if args.mode == "server":
            asyncio.run(serve(compression))
        else:
            asyncio.run(connect(args.url, compression))
    except Exception as err:  # report, so the test shows why instead of waiting
        report("error", message=repr(err))
        sys.exit(1)


if __name__ == "__main__":
    main()
