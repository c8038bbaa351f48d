"""Socket.IO v4 as ABS apps use it: `auth` → `init`, bad tokens → `auth_failed`, both transports."""

import asyncio

import aiohttp
import socketio
import aioaudiobookshelf as abs_
from aioaudiobookshelf import SessionConfiguration

from conftest import LISTENER


async def _token(server):
    async with aiohttp.ClientSession() as session:
        cfg = SessionConfiguration(session=session, url=server.url)
        await abs_.get_user_client(session_config=cfg, username=LISTENER[0], password=LISTENER[1])
        return cfg.access_token


async def _auth_roundtrip(server, token, transports, path="socket.io"):
    sio = socketio.AsyncClient(reconnection=False)
    got = asyncio.get_running_loop().create_future()

    @sio.on("init")
    async def on_init(data):
        if not got.done():
            got.set_result(("init", data))

    @sio.on("auth_failed")
    async def on_failed(data):
        if not got.done():
            got.set_result(("auth_failed", data))

    await sio.connect(server.url, transports=transports, socketio_path=path)
    await sio.emit("auth", token)
    result = await asyncio.wait_for(got, timeout=10)
    await sio.disconnect()
    return result


async def test_websocket_only_client_gets_init(server):
    kind, data = await _auth_roundtrip(server, await _token(server), ["websocket"])
    assert kind == "init"
    assert data["username"] == LISTENER[0]


async def test_polling_then_upgrade_client_gets_init(server):
    kind, data = await _auth_roundtrip(server, await _token(server), ["polling", "websocket"])
    assert kind == "init" and data["userId"]


async def test_abs_base_path_socket(server):
    kind, _ = await _auth_roundtrip(server, await _token(server), ["websocket"], path="audiobookshelf/socket.io")
    assert kind == "init"


async def test_bad_token_gets_auth_failed(server):
    kind, data = await _auth_roundtrip(server, "not-a-token", ["websocket"])
    assert kind == "auth_failed"
    assert data["message"] == "Invalid token"
