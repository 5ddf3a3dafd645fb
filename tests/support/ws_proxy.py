#!/usr/bin/python3
"""A WebSocket-to-TCP proxy for tests: MQTT over WebSockets (subprotocol "mqtt", binary frames,
MQTT v5 section 6) in front of a broker that only speaks TCP (Debian's mosquitto has no
WebSockets listener). Plain ws:// or, with --certfile/--keyfile, wss://. Any request path is
accepted; every WebSocket connection gets its own TCP connection upstream, and bytes are copied
both ways until either side closes. Uses python3-websockets (10.x)."""
import argparse
import asyncio
import ssl

import websockets


async def relay(websocket, upstream_port):
    if websocket.subprotocol != "mqtt":
        await websocket.close(1002, "subprotocol mqtt required")
        return
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream_port)

    async def to_upstream():
        async for frame in websocket:
            writer.write(frame if isinstance(frame, bytes) else frame.encode())
            await writer.drain()

    async def to_client():
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            await websocket.send(chunk)

    tasks = [asyncio.ensure_future(to_upstream()), asyncio.ensure_future(to_client())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    writer.close()
    await websocket.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="listen on 127.0.0.1:PORT")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args()
    context = None
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)
    async with websockets.serve(lambda ws, path: relay(ws, args.upstream_port), "127.0.0.1",
                                args.port, subprotocols=["mqtt"], ssl=context,
                                max_size=None, compression=None):
        print("listening on 127.0.0.1:%d (%s)" % (args.port, "wss" if context else "ws"),
              flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
