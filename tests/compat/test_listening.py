"""Browse, play, sync, progress and live events through aioaudiobookshelf, every response parsed
by the client's own schema (a missing key fails with a SchemaError)."""

import asyncio

import aiohttp
import socketio
import aioaudiobookshelf as abs_
from aioaudiobookshelf import SessionConfiguration
from aioaudiobookshelf.schema.calls_items import PlaybackSessionParameters
from aioaudiobookshelf.schema.calls_session import SyncOpenSessionParameters, CloseOpenSessionsParameters
from aioaudiobookshelf.schema.session import DeviceInfo

from conftest import ADMIN, LISTENER

BOOKS = 12


async def _client(session, server, user=LISTENER):
    cfg = SessionConfiguration(session=session, url=server.url, pagination_items_per_page=5)
    return await abs_.get_user_client(session_config=cfg, username=user[0], password=user[1]), cfg


async def _library(client):
    for _ in range(400):
        libraries = await client.get_all_libraries()
        if libraries:
            lib = libraries[0]
            items = [i async for page in client.get_library_items(library_id=lib.id_) for i in page.results]
            if len(items) == BOOKS:
                return lib, items
        await asyncio.sleep(0.05)
    raise AssertionError("the library was never scanned")


async def test_browse_with_paged_items_series_and_filterdata(server):
    async with aiohttp.ClientSession() as session:
        client, _ = await _client(session, server)
        lib, items = await _library(client)
        assert len({i.id_ for i in items}) == BOOKS, "paging returns every item once"
        await client.get_library(library_id=lib.id_)
        await client.get_library_with_filterdata(library_id=lib.id_)
        await client.get_library_filterdata(library_id=lib.id_)
        series = [s async for page in client.get_library_series(library_id=lib.id_) for s in page.results]
        await client.get_library_personalized_view(library_id=lib.id_)
        authors = await client.get_library_authors(library_id=lib.id_)
        assert authors
        await client.get_library_narrators(library_id=lib.id_)
        await client.get_author(author_id=authors[0].id_, include_items=True, include_series=True)
        if series:
            await client.get_series(series_id=series[0].id_, include_progress=True)
        book = await client.get_library_item_book(book_id=items[0].id_, expanded=True)
        assert book.media.tracks
        await client.get_library_item_book(book_id=items[0].id_, expanded=False)
        batch = await client.get_library_item_batch_book(item_ids=[i.id_ for i in items[:3]])
        assert len(batch) == 3


async def test_play_sync_close_progress_and_socket_event(server):
    async with aiohttp.ClientSession() as session:
        client, cfg = await _client(session, server)
        lib, items = await _library(client)
        item = items[1]

        sio = socketio.AsyncClient(reconnection=False)
        events = asyncio.Queue()
        sio.on("user_item_progress_updated", lambda data: events.put_nowait(data))
        ready = asyncio.get_running_loop().create_future()
        sio.on("init", lambda data: ready.done() or ready.set_result(data))
        await sio.connect(server.url, transports=["websocket"])
        await sio.emit("auth", cfg.access_token)
        await asyncio.wait_for(ready, 10)

        params = PlaybackSessionParameters(device_info=DeviceInfo(device_id="compat-1", client_name="compat"),
                                           supported_mime_types=["audio/mpeg", "audio/mp4", "audio/flac", "audio/ogg"])
        ps = await client.get_playback_session(session_parameters=params, item_id=item.id_)
        assert ps.audio_tracks and ps.audio_tracks[0].content_url.startswith("/api/items/")
        await client.get_open_session(session_id=ps.id_)
        await client.sync_open_session(session_id=ps.id_, parameters=SyncOpenSessionParameters(
            current_time=0.5, time_listened=0.5, duration=ps.duration))
        event = await asyncio.wait_for(events.get(), 10)
        assert event["data"]["libraryItemId"] == item.id_
        await client.close_open_session(session_id=ps.id_, parameters=CloseOpenSessionsParameters(
            current_time=0.75, time_listened=0.25, duration=ps.duration))
        await sio.disconnect()

        progress = await client.get_my_media_progress(item_id=item.id_)
        assert progress is not None and abs(progress.current_time - 0.75) < 1e-6
        sessions = [s async for page in client.get_my_listening_sessions() for s in page.sessions]
        assert any(s.id_ == ps.id_ for s in sessions)
        await client.update_my_media_progress(item_id=items[2].id_, duration_seconds=1000.0,
                                              progress_seconds=100.0, is_finished=False)
        in_progress = await client.get_my_items_in_progress()
        assert any(i.id_ == items[2].id_ for i in in_progress)
        await client.update_my_media_progress(item_id=items[2].id_, duration_seconds=1000.0,
                                              progress_seconds=100.0, is_finished=True)
        finished = await client.get_my_media_progress(item_id=items[2].id_)
        assert finished.is_finished
        await client.remove_my_media_progress(media_progress_id=finished.id_)
        assert await client.get_my_media_progress(item_id=items[2].id_) is None
        me = await client.get_my_user()
        assert any(p.library_item_id == item.id_ for p in me.media_progress)


async def test_bookmarks_through_the_api(server):
    async with aiohttp.ClientSession() as session:
        client, cfg = await _client(session, server)
        _, items = await _library(client)
        headers = {"Authorization": f"Bearer {cfg.access_token}"}
        url = f"{server.url}/api/me/item/{items[3].id_}/bookmark"
        async with session.post(url, json={"time": 1.5, "title": "here"}, headers=headers) as r:
            assert r.status == 200
        me = await client.get_my_user()
        assert any(b.title == "here" for b in me.bookmarks)
        async with session.delete(f"{url}/1.5", headers=headers) as r:
            assert r.status == 200


async def test_admin_sees_open_sessions_listener_does_not(server):
    async with aiohttp.ClientSession() as session:
        admin, acfg = await _client(session, server, ADMIN)
        _, lcfg = await _client(session, server)
        async with session.get(f"{server.url}/api/sessions/open", headers={"Authorization": f"Bearer {acfg.access_token}"}) as r:
            assert r.status == 200
        async with session.get(f"{server.url}/api/sessions/open", headers={"Authorization": f"Bearer {lcfg.access_token}"}) as r:
            assert r.status == 404
