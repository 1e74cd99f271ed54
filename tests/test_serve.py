"""``plytree serve``: the JSON API over real HTTP, and the page in a real headless Chromium (Debian's
package, driven by Playwright): a Connect Four game played to the end by clicks, the analysis seen on
the page, a screenshot for docs/serve.md."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from engine.serve import Server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "serve.png"


@pytest.fixture()
def server():
    s = Server(port=0).start()
    yield s
    s.close()


def _post(server: Server, path: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path.lstrip("/"), data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_api_state_move_and_analysis(server):
    status, view = _post(server, "/api/state", {"game": "connect4", "moves": [3, 3, 2]})
    assert status == 200 and view["toMove"] == 1 and view["moveTexts"] == ["4", "4", "3"]
    assert view["grid"]["cells"][5][2:4] == ["x", "x"] and view["grid"]["cells"][4][3] == "o"
    # x threatens 2-3-4 and 1-2-3 along the bottom: o cannot stop both, the engine blocks one side
    status, move = _post(server, "/api/move", {"game": "connect4", "moves": [3, 3, 2, 2, 4],
                                               "player": "kind=mcts,simulations=400"})
    assert status == 200 and move["action"] in (1, 5)
    status, answer = _post(server, "/api/analysis", {"id": 5, "game": "connect4", "moves": [0, 0, 1, 1, 2, 2],
                                                     "limit": {"simulations": 200}, "player": "mcts"})
    assert status == 200 and answer["bestMove"] == "4" and answer["id"] == 5
    status, view = _post(server, "/api/state", {"game": "hex", "gameParams": {"board_size": 5, "swap": True},
                                                "moves": [1, 25]})
    assert view["grid"]["cells"][0][1] == "" and view["grid"]["cells"][1][0] == "o"  # the swap mirrors
    # a chess position from a FEN: the move list names the moves after it, the page shows text
    fen = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"
    status, view = _post(server, "/api/state", {"game": "chess", "position": fen, "moves": ["e7e5", "g1f3"]})
    assert status == 200 and view["moveTexts"] == ["e7e5", "g1f3"] and view["grid"] is None
    assert view["toMove"] == 1 and "b8c6" in {m["move"] for m in view["legal"]}


def test_api_errors_are_json(server):
    cases = [
        ("/api/state", {"game": "nope", "moves": []}, 400, "unknown_game"),
        ("/api/state", {"game": "connect4", "moves": [9]}, 400, "bad_position"),
        ("/api/move", {"game": "connect4", "moves": [], "player": "kind=telepathy"}, 400, "unsupported"),
        ("/api/move", {"game": "connect4", "moves": [], "player": "mcts", "seed": "x"}, 400, "bad_query"),
        ("/api/analysis", {"id": 1, "game": "connect4", "limit": {}}, 400, "bad_limit"),
        ("/api/analysis", b"{not json", 400, "invalid_json"),
        ("/api/analysis", [1, 2], 400, "bad_query"),
        ("/api/nothing", {}, 404, "not_found"),
    ]
    for path, body, code, error in cases:
        status, answer = _post(server, path, body)
        assert (status, answer["error"]["code"]) == (code, error), (path, body, answer)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url + "static/../serve.py")
    assert info.value.code == 404


def test_cli_serve_starts_and_answers():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "open http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split("open ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "api/games", timeout=30) as r:
            assert "connect4" in {g["name"] for g in json.loads(r.read())}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_browser_plays_connect4_to_the_end_by_clicks(server):
    from playwright.sync_api import sync_playwright  # installed with chromium by .ci/run

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1180, "height": 720})
            errors: list[str] = []
            started = time.time()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            page.wait_for_selector("#status[data-state='your-move']", timeout=30_000)
            assert page.locator("#game").input_value() == "connect4"
            page.fill("#opponent", "kind=mcts,simulations=30")
            page.click("#new-game")
            page.wait_for_selector("#status[data-state='your-move']", timeout=30_000)
            # the analysis of the start position arrives and shows lines and a heat map
            page.wait_for_selector("#analysis-status[data-state='updated'], #analysis-status[data-state='done']",
                                   timeout=60_000)
            assert page.locator("#analysis-lines tbody tr").count() >= 1
            assert page.locator("#board .cell .heat").count() >= 1
            clicks = 0
            while True:
                page.wait_for_selector("#status[data-state='your-move'], #status[data-state='over']", timeout=60_000)
                if page.locator("#status").get_attribute("data-state") == "over":
                    break
                if clicks == 3:
                    # mid-game (no four in a row is possible yet): the analysis of the position fills
                    # in, deeper and deeper; this is the docs' screenshot
                    page.wait_for_function(
                        "parseInt(document.querySelector('#analysis-status').dataset.simulations || '0') >= 1000",
                        timeout=60_000)
                    assert page.locator("#analysis-lines tbody tr").count() >= 2
                    SCREENSHOT.parent.mkdir(exist_ok=True)
                    page.screenshot(path=str(SCREENSHOT), full_page=True)
                before = page.locator("#move-list li").count()
                # alternate the leftmost and the rightmost open column, as a (weak) player would
                legal = page.locator("#board .cell[data-legal='1']")
                (legal.last if clicks % 2 else legal.first).click()
                clicks += 1
                page.wait_for_function(f"document.querySelectorAll('#move-list li').length > {before}",
                                       timeout=30_000)
                assert clicks <= 21, "more human moves than a Connect Four game has"
            status = page.locator("#status").inner_text()
            assert status.startswith("Game over:")
            moves = page.locator("#move-list li").count()
            assert clicks >= 4 and moves >= 7  # no four in a row before the seventh move
            cells = page.locator("#board .cell.x").count() + page.locator("#board .cell.o").count()
            assert cells == moves
            assert page.locator("#analysis-status").get_attribute("data-state") == "game over"
            assert SCREENSHOT.stat().st_size > 10_000 and SCREENSHOT.stat().st_mtime > started
            assert not errors, errors
        finally:
            browser.close()
