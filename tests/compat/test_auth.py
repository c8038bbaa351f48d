"""Login, token login and refresh through aioaudiobookshelf, the client Music Assistant uses."""

import aiohttp
import aioaudiobookshelf as abs_
from aioaudiobookshelf import SessionConfiguration
from aioaudiobookshelf.exceptions import LoginError

from conftest import ADMIN, LISTENER


async def test_login_with_password_parses_the_login_response(server):
    async with aiohttp.ClientSession() as session:
        cfg = SessionConfiguration(session=session, url=server.url)
        client = await abs_.get_user_client(session_config=cfg, username=LISTENER[0], password=LISTENER[1])
        assert client.user.username == LISTENER[0]
        assert cfg.access_token and cfg.refresh_token


async def test_wrong_password_is_a_login_error(server):
    async with aiohttp.ClientSession() as session:
        cfg = SessionConfiguration(session=session, url=server.url)
        try:
            await abs_.get_user_client(session_config=cfg, username=LISTENER[0], password="not the password at all")
        except LoginError:
            return
        raise AssertionError("login with a wrong password succeeded")


async def test_token_login_with_the_legacy_token(server):
    async with aiohttp.ClientSession() as session:
        cfg = SessionConfiguration(session=session, url=server.url)
        client = await abs_.get_user_client(session_config=cfg, username=ADMIN[0], password=ADMIN[1])
        legacy = client.user.token
    async with aiohttp.ClientSession() as session:
        cfg = SessionConfiguration(session=session, url=server.url, token=legacy)
        client = await abs_.get_user_client_by_token(session_config=cfg)
        assert client.user.username == ADMIN[0]


async def test_refresh_gives_a_working_access_token(server):
    async with aiohttp.ClientSession() as session:
        cfg = SessionConfiguration(session=session, url=server.url)
        client = await abs_.get_user_client(session_config=cfg, username=LISTENER[0], password=LISTENER[1])
        old_refresh = cfg.refresh_token
        await client.refresh()
        assert cfg.refresh_token and cfg.refresh_token != old_refresh
        me = await client.get_my_user()
        assert me.username == LISTENER[0]
