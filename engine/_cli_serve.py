"""``plytree serve``: the local web page to play and analyse on (see ``engine/serve.py``)."""
from __future__ import annotations

import argparse

HELP = "serve a local web page to play a game against a player and watch the analysis"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; the page has no login)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--verbose", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    from engine.serve import Server

    server = Server(args.host, args.port, verbose=args.verbose)
    print(f"plytree serve: open {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()  # serve_forever ended in this thread: no shutdown() to wait for
    return 0
