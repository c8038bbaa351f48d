"""Collections and playlists through aioaudiobookshelf, every response parsed by its schema."""

import asyncio

import aiohttp
import socketio
import aioaudiobookshelf as abs_
from aioaudiobookshelf.schema.calls_playlists import CreatePlaylistParameters, UpdatePlaylistParameters
from aioaudiobookshelf.schema.playlist import PlaylistItem

from conftest import ADMIN, LISTENER
from test_listening import _client, _library


async def test_collections_made_by_an_admin_are_read_by_a_listener(server):
    async with aiohttp.ClientSession() as session:
        _, acfg = await _client(session, server, ADMIN)
        listener, lcfg = await _client(session, server)
        lib, items = await _library(listener)

        sio = socketio.AsyncClient(reconnection=False)
        added = asyncio.get_running_loop().create_future()
        sio.on("collection_added", lambda data: added.done() or added.set_result(data))
        ready = asyncio.get_running_loop().create_future()
        sio.on("init", lambda data: ready.done() or ready.set_result(data))
        await sio.connect(server.url, transports=["websocket"])
        await sio.emit("auth", lcfg.access_token)
        await asyncio.wait_for(ready, 10)

        body = {"name": "Road trip", "libraryId": lib.id_, "description": "long drives",
                "books": [items[0].id_, items[1].id_]}
        headers = {"Authorization": f"Bearer {acfg.access_token}"}
        async with session.post(f"{server.url}/api/collections", json=body, headers=headers) as r:
            assert r.status == 200
            created = await r.json()
        event = await asyncio.wait_for(added, 10)
        assert event["id"] == created["id"] and [b["id"] for b in event["books"]] == body["books"]
        await sio.disconnect()

        every = await listener.get_all_collections()
        mine = [c for c in every if c.id_ == created["id"]]
        assert len(mine) == 1 and [b.id_ for b in mine[0].books] == [items[0].id_, items[1].id_]
        one = await listener.get_collection(collection_id=created["id"])
        assert one.name == "Road trip" and one.books[0].media.tracks
        paged = [c async for page in listener.get_library_collections(library_id=lib.id_) for c in page.results]
        assert any(c.id_ == created["id"] for c in paged)


async def test_playlists_through_the_client_with_live_events(server):
    async with aiohttp.ClientSession() as session:
        client, cfg = await _client(session, server)
        lib, items = await _library(client)

        sio = socketio.AsyncClient(reconnection=False)
        events = asyncio.Queue()
        for name in ("playlist_added", "playlist_updated", "playlist_removed"):
            sio.on(name, lambda data, name=name: events.put_nowait((name, data)))
        ready = asyncio.get_running_loop().create_future()
        sio.on("init", lambda data: ready.done() or ready.set_result(data))
        await sio.connect(server.url, transports=["websocket"])
        await sio.emit("auth", cfg.access_token)
        await asyncio.wait_for(ready, 10)

        playlist = await client.create_playlist(parameters=CreatePlaylistParameters(
            name="Commute", library_id=lib.id_))
        assert playlist.items == []
        name, data = await asyncio.wait_for(events.get(), 10)
        assert name == "playlist_added" and data["id"] == playlist.id_

        playlist = await client.add_item_to_playlist(playlist_id=playlist.id_,
                                                     item=PlaylistItem(library_item_id=items[0].id_))
        playlist = await client.add_item_to_playlist_batch(playlist_id=playlist.id_, items=[
            PlaylistItem(library_item_id=items[1].id_), PlaylistItem(library_item_id=items[2].id_)])
        assert [i.library_item_id for i in playlist.items] == [items[0].id_, items[1].id_, items[2].id_]
        playlist = await client.update_playlist(playlist_id=playlist.id_, parameters=UpdatePlaylistParameters(
            name="Morning commute"))
        assert playlist.name == "Morning commute"
        assert any(p.id_ == playlist.id_ for p in await client.get_all_playlists())
        in_library = [p async for page in client.get_library_playlists(library_id=lib.id_) for p in page.results]
        assert [p.id_ for p in in_library] == [playlist.id_]

        playlist = await client.remove_item_from_playlist_batch(playlist_id=playlist.id_, items=[
            PlaylistItem(library_item_id=items[1].id_), PlaylistItem(library_item_id=items[2].id_)])
        assert [i.library_item_id for i in playlist.items] == [items[0].id_]
        # Removing the last item deletes the playlist, as in ABS.
        await client.remove_item_from_playlist(playlist_id=playlist.id_,
                                               item=PlaylistItem(library_item_id=items[0].id_))
        seen = []
        while not seen or seen[-1] != "playlist_removed":
            seen.append((await asyncio.wait_for(events.get(), 10))[0])
        assert all(p.id_ != playlist.id_ for p in await client.get_all_playlists())
        await sio.disconnect()


async def test_a_playlist_copied_from_a_collection(server):
    async with aiohttp.ClientSession() as session:
        _, acfg = await _client(session, server, ADMIN)
        client, _ = await _client(session, server)
        lib, items = await _library(client)
        body = {"name": "Favourites", "libraryId": lib.id_, "books": [items[4].id_, items[3].id_]}
        async with session.post(f"{server.url}/api/collections", json=body,
                                headers={"Authorization": f"Bearer {acfg.access_token}"}) as r:
            assert r.status == 200
            collection = await r.json()
        playlist = await client.create_playlist_from_collection(collection_id=collection["id"])
        assert [i.library_item_id for i in playlist.items] == [items[4].id_, items[3].id_]
        await client.delete_playlist(playlist_id=playlist.id_)
        assert all(p.id_ != playlist.id_ for p in await client.get_all_playlists())
