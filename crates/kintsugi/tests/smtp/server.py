"""A real SMTP server on loopback for the email tests (aiosmtpd from PyPI).

Usage: server.py DIR [--port N] [--fail-first N]

Saves each message it accepts as DIR/NNNN.eml (raw, as received, with an X-Envelope-To
line first), prints "ready PORT" on stdout once it listens, and runs until killed.
--fail-first N answers the first N messages with a temporary failure (451), so tests
can see retries.
"""

import argparse
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP


class Saver:
    def __init__(self, directory, fail_first):
        self.directory = directory
        self.fail_left = fail_first
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 try again later (test server)"
        self.count += 1
        name = os.path.join(self.directory, "%04d.eml" % self.count)
        tmp = name + ".part"
        with open(tmp, "wb") as f:
            f.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.original_content)
        os.replace(tmp, name)  # readers never see half a message
        return "250 OK"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Saver(args.dir, args.fail_first)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="kintsugi-test-smtp"), "127.0.0.1", args.port
    )
    port = server.sockets[0].getsockname()[1]
    print("ready %d" % port, flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
