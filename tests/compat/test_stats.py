"""Listening history and statistics through aioaudiobookshelf-plus, the API-key-first client that
reads them: each user with their latest session, who is online, one user's listening stats, the
caller's year in review, and the open sessions. Every response is parsed by the client's schema."""

import datetime

import aiohttp
import socketio
import aioaudiobookshelf_plus as plus
from aioaudiobookshelf_plus.client.session_configuration import SessionConfiguration

from conftest import ADMIN, LISTENER
from test_listening import _client, _library


async def _api_key(session, server, admin_token, user_id, name, scopes=None):
    """An API key for `user_id`, made by an admin who has just signed in (key creation needs a
    fresh sign-in). Shelfwarden refuses keys without an expiry, and a key without named scopes
    may only read and listen."""
    body = {"name": name, "userId": user_id, "expiresIn": 3600, "isActive": True}
    if scopes:
        body["scopes"] = scopes
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with session.post(f"{server.url}/api/api-keys", json=body, headers=headers) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["apiKey"]["apiKey"]


async def test_history_and_stats_through_the_api_key_client(server):
    async with aiohttp.ClientSession() as session:
        admin_login, acfg = await _client(session, server, ADMIN)
        listener_login, lcfg = await _client(session, server, LISTENER)
        _, items = await _library(listener_login)
        listener_id = listener_login.user.id_

        admin = await plus.get_admin_client_by_api_key(
            session_config=SessionConfiguration(session=session, url=server.url),
            api_key=await _api_key(session, server, acfg.access_token, admin_login.user.id_, "stats admin",
                                  ["admin"]))
        listener = await plus.get_user_client_by_api_key(
            session_config=SessionConfiguration(session=session, url=server.url),
            api_key=await _api_key(session, server, acfg.access_token, listener_id, "stats listener"))
        assert listener.user.id_ == listener_id

        # The listener's app is open (a live socket) and one book is playing.
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(server.url, transports=["websocket"])
        await sio.emit("auth", lcfg.access_token)
        headers = {"Authorization": f"Bearer {lcfg.access_token}"}
        book = items[5].id_
        async with session.post(f"{server.url}/api/items/{book}/play", headers=headers,
                                json={"deviceInfo": {"deviceId": "compat-stats"}}) as r:
            assert r.status == 200
            playing = await r.json()
        async with session.post(f"{server.url}/api/session/{playing['id']}/sync", headers=headers,
                                json={"currentTime": 0.5, "timeListened": 42}) as r:
            assert r.status == 200

        open_ids = [s.id_ for s in await admin.get_open_sessions()]
        assert playing["id"] in open_ids
        online = {u.username for u in await admin.get_online_users()}
        assert LISTENER[0] in online
        await sio.disconnect()

        users = {u.username: u for u in await admin.get_all_users(include_latest_session=True)}
        latest = users[LISTENER[0]].latest_session
        assert latest is not None and latest.id_ == playing["id"]
        assert latest.library_item_id == book and latest.updated_at > 0

        stats = await admin.get_user_listening_stats(user_id=listener_id)
        assert stats.total_time >= 42
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        assert stats.days.get(today, 0) >= 42
        weekday = datetime.datetime.now(datetime.timezone.utc).strftime("%A")
        assert stats.day_of_week.get(weekday, 0) >= 42

        year = await listener.get_my_year_in_review(year=datetime.datetime.now(datetime.timezone.utc).year)
        assert year.total_listening_time >= 42
        assert year.most_listened_month.month == datetime.datetime.now(datetime.timezone.utc).month - 1

        async with session.post(f"{server.url}/api/session/{playing['id']}/close", headers=headers, json={}) as r:
            assert r.status == 200
        assert playing["id"] not in [s.id_ for s in await admin.get_open_sessions()]
