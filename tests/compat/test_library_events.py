"""Library changes reach a listening app live: after a scan, `items_added` and `items_updated`
arrive through aioaudiobookshelf's own SocketClient and parse as its LibraryItemExpanded."""

import asyncio
import os
import shutil
import subprocess
import tempfile

import aiohttp
import aioaudiobookshelf as abs_
from aioaudiobookshelf import SessionConfiguration

from conftest import ADMIN, BIN, LISTENER, Server, _clean_env, cli

BOOKS = 4


async def _admin_json(session, url, method="GET", token=None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, url, json=body, headers=headers) as r:
        assert r.status == 200, (method, url, r.status, await r.text())
        return await r.json(content_type=None) if r.content_type == "application/json" else None


async def _scan(session, url, token):
    """Starts a scan, waiting out one still finishing (the server refuses two at once)."""
    for _ in range(400):
        async with session.post(url, headers={"Authorization": f"Bearer {token}"}) as r:
            if r.status == 200:
                return
            assert r.status == 400 and "already" in await r.text(), r.status
        await asyncio.sleep(0.05)
    raise AssertionError("the library never stopped scanning")


async def _wait_for(predicate, what):
    for _ in range(400):
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_scan_results_reach_a_connected_listener():
    data = tempfile.mkdtemp(prefix="sw-events-")
    library = tempfile.mkdtemp(prefix="sw-events-lib-")
    cli(data, "user", "add", ADMIN[0], "--admin", "--password-stdin", stdin=ADMIN[1] + "\n")
    cli(data, "user", "add", LISTENER[0], "--password-stdin", stdin=LISTENER[1] + "\n")
    subprocess.run([BIN, "--data", data, "generate-library", "--books", str(BOOKS), "--out", library],
                   check=True, env=_clean_env(), capture_output=True)
    server = Server(data, library)
    try:
        async with aiohttp.ClientSession() as session:
            login = await _admin_json(session, f"{server.url}/login", "POST",
                                      body={"username": ADMIN[0], "password": ADMIN[1]})
            admin = login["user"]["accessToken"]
            libs = await _admin_json(session, f"{server.url}/api/libraries", token=admin)
            lib = libs["libraries"][0]["id"]

            async def scanned():
                page = await _admin_json(session, f"{server.url}/api/libraries/{lib}/items?limit=50", token=admin)
                return page if page["total"] == BOOKS else None
            page = await _wait_for(scanned, "the first scan")

            cfg = SessionConfiguration(session=session, url=server.url)
            _, socket = await abs_.get_user_and_socket_client(
                session_config=cfg, username=LISTENER[0], password=LISTENER[1])
            added, updated = asyncio.Queue(), asyncio.Queue()

            async def on_added(items):
                await added.put(items)

            async def on_updated(items):
                await updated.put(items)
            socket.set_item_callbacks(on_items_added=on_added, on_items_updated=on_updated)
            await socket.init_client()

            async def listener_online():
                online = await _admin_json(session, f"{server.url}/api/users/online", token=admin)
                return any(u["username"] == LISTENER[0] for u in online["usersOnline"])
            await _wait_for(listener_online, "the listener's socket authenticated")

            # A new book folder appears; an admin scans.
            source = page["results"][0]["path"]
            copy = os.path.join(library, "Live Author", "A Book Added While Listening")
            shutil.copytree(source, copy)
            await _scan(session, f"{server.url}/api/libraries/{lib}/scan", admin)
            items = await asyncio.wait_for(added.get(), 20)
            assert [i.path for i in items] == [copy]
            new_id = items[0].id_
            assert items[0].library_id == lib and not items[0].is_missing

            # The folder goes away: the item is kept, marked missing, and listeners hear of it.
            shutil.rmtree(copy)
            await _scan(session, f"{server.url}/api/libraries/{lib}/scan", admin)
            items = await asyncio.wait_for(updated.get(), 20)
            assert [(i.id_, i.is_missing) for i in items] == [(new_id, True)]
            await socket.shutdown()
    finally:
        server.stop()
