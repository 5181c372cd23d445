"""The real bot, served as `llm-incident serve --http` serves it, on a free loopback port.

Not a fake: the counterpart the fakes are for. It speaks what production speaks
(`/slack/events`, `/aws/sns`, `/healthz`, `/metrics`), built from `Settings` that point
Slack, AWS and the LLM at loopback fakes and the emulator, and records nothing itself
(what it did is in its database and in the fakes' records). Tests and benchmarks drive
it over HTTP like Slack and SNS do; no work outlives the `with` block.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bot.config import Settings
from bot.ingest.sns import CertificateCache
from bot.server.runtime import build
from bot.server.web import WebApp, make_server
from bot.slack.context import BotContext


@contextmanager
def serving(
    settings: Settings, certificates: CertificateCache | None = None, threads: int = 8
) -> Iterator[tuple[str, BotContext]]:
    """(base URL, context) of a running server built from `settings`."""
    ctx, app = build(settings)
    web = WebApp(app, ctx.incidents, certificates or CertificateCache())
    server = make_server(web, "127.0.0.1", 0, threads=threads)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:  # waitress's loop meets the socket `close` just closed under it
            if not closing.is_set():
                raise

    threading.Thread(target=run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", ctx
    finally:
        ctx.runtime.executor.shutdown(wait=True, cancel_futures=True)
        ctx.runtime.notes.shutdown(wait=True, cancel_futures=True)
        closing.set()
        server.close()
