#!/usr/bin/python3
"""A WebSocket-to-TCP proxy for tests: MQTT over WebSockets (subprotocol "mqtt", binary frames,
MQTT v5 section 6) in front of a broker that only speaks TCP (Debian's mosquitto has no
WebSockets listener). Plain ws:// or, with --certfile/--keyfile, wss://. Any request path is
accepted; every WebSocket connection gets its own TCP connection upstream; bytes from the client
are copied as they come, bytes from the broker are sent one MQTT packet per binary frame, until
either side closes. Uses python3-websockets (10.x)."""
import argparse
import asyncio
import ssl

import websockets


def packet_size(buffer):
    """Size of the whole MQTT packet at the start of `buffer`, or None if its header is partial."""
    length, shift = 0, 0
    for i in range(1, 5):
        if i >= len(buffer):
            return None
        length |= (buffer[i] & 0x7F) << shift
        shift += 7
        if not buffer[i] & 0x80:
            return 1 + i + length
    raise ValueError("malformed remaining length")


async def relay(websocket, upstream_port):
    print("request path %s" % websocket.path, flush=True)
    if websocket.subprotocol != "mqtt":
        await websocket.close(1002, "subprotocol mqtt required")
        return
    reader, writer = await asyncio.open_connection("127.0.0.1", upstream_port)

    async def to_upstream():
        async for frame in websocket:
            writer.write(frame if isinstance(frame, bytes) else frame.encode())
            await writer.drain()

    async def to_client():
        # One frame per MQTT packet, as mosquitto's own WebSockets listener sends them: paho.mqtt.c
        # 1.3.12 loses the packets after the first in a frame that holds several (which MQTT
        # 6.0.0-2 allows), so a proxy that forwarded TCP reads as frames would lose messages.
        buffer = bytearray()
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            buffer += chunk
            while True:
                size = packet_size(buffer)
                if size is None or size > len(buffer):
                    break
                await websocket.send(bytes(buffer[:size]))
                del buffer[:size]

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
