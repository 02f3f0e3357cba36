#!/usr/bin/env python3
"""A helpdesk written in Python (standard library only) using replyd's HTTP API.

It does what a helpdesk does when an agent answers a customer who wrote on the web widget:

1. creates the conversation (retry-safe: with the helpdesk's own ticket id as external_id),
2. writes the agent's reply, has replyd stamp it (POST .../outgoing) and "sends" it: with
   --smtp HOST:PORT through that mail server (MAIL FROM the envelope sender replyd names,
   so bounces come back), else into --outbox as an .eml file for your MTA to pick up,
3. waits for the customer's answer through GET /api/v1/events (a long poll), and
4. prints the answer's reply text: the customer's new words, without the quoted history.

    replyd api-key create --name helpdesk > key.txt
    python3 examples/helpdesk.py --api http://127.0.0.1:8025 --key "$(cat key.txt)" \\
        --contact bob@example.org --ticket T-1001

Lines it prints (one per step, for a person or a script):
    conversation: <uuid>
    reply address: <reply+token@domain>
    sent: <Message-ID of the stamped mail> (MAIL FROM:<envelope sender>)
    customer replied: <the reply text, first line>   (then the rest, indented)
    attachment: <safe file name> (<content type>, <size> bytes)   (one per attachment)
"""

import argparse
import json
import smtplib
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class Api:
    """The few calls this helpdesk needs, with replyd's JSON errors turned into exceptions."""

    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, content_type="application/json", timeout=60):
        data = None
        if body is not None:
            data = json.dumps(body).encode() if content_type == "application/json" else body
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.key)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                error = json.loads(detail)["error"]
                detail = f"{error['code']}: {error['message']}"
            except (ValueError, KeyError, TypeError):
                pass
            raise SystemExit(f"helpdesk: {method} {path} answered {e.code} ({detail})")

    def json(self, method, path, body=None, timeout=60):
        _, _, data = self.call(method, path, body, timeout=timeout)
        return json.loads(data)


def printable(text):
    """Mail is written by strangers: control and bidi characters are shown, not obeyed."""
    return "".join(c if c.isprintable() else f"\\u{{{ord(c):x}}}" for c in text)


def latest_cursor(api):
    """The cursor after every event so far: only what arrives from now on is new."""
    cursor = 0
    while True:
        page = api.json("GET", f"/api/v1/events?after={cursor}&limit=100")
        if not page["events"]:
            return page["next"]
        cursor = page["next"]


def agent_reply(contact, subject):
    return (
        "From: Alice at Example Support <alice@support.example.com>\r\n"
        f"To: {contact}\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Hello,\r\n\r\nyour parcel left our warehouse today.\r\n\r\nAlice\r\n"
    ).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="replyd's HTTP address, e.g. http://127.0.0.1:8025")
    parser.add_argument("--key", required=True, help="an API key (replyd api-key create)")
    parser.add_argument("--contact", required=True, help="the customer's email address")
    parser.add_argument("--ticket", default="T-1001", help="the helpdesk's ticket id (external_id)")
    parser.add_argument("--subject", default="Your order 42")
    parser.add_argument("--smtp", help="HOST:PORT of the mail server to send through")
    parser.add_argument("--outbox", default="outbox", help="where to write the mail without --smtp")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the answer")
    args = parser.parse_args()
    api = Api(args.api, args.key)

    # 1. The conversation (a retry with the same ticket id finds the same one).
    conversation = api.json("POST", "/api/v1/conversations", {
        "contact": args.contact,
        "channel": "web_widget",
        "subject": args.subject,
        "external_id": args.ticket,
    })
    uuid = conversation["uuid"]
    print(f"conversation: {uuid}", flush=True)
    print(f"reply address: {conversation['reply_address']}", flush=True)

    cursor = latest_cursor(api)

    # 2. Stamp the agent's reply and send it.
    _, headers, stamped = api.call(
        "POST", f"/api/v1/conversations/{uuid}/outgoing",
        agent_reply(args.contact, args.subject), content_type="message/rfc822")
    headers = {k.lower(): v for k, v in headers.items()}
    sender = headers["x-replyd-envelope-sender"]
    message_id = headers["x-replyd-message-id"]
    if args.smtp:
        host, _, port = args.smtp.rpartition(":")
        with smtplib.SMTP(host, int(port)) as smtp:
            smtp.sendmail(sender, [args.contact], stamped)
    else:
        outbox = Path(args.outbox)
        outbox.mkdir(parents=True, exist_ok=True)
        (outbox / f"{headers['x-replyd-stored-message']}.eml").write_bytes(stamped)
    print(f"sent: {message_id} (MAIL FROM:<{sender}>)", flush=True)

    # 3. Wait for the customer's answer in this conversation.
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        wait = max(1, min(25, int(deadline - time.monotonic())))
        page = api.json("GET", f"/api/v1/events?after={cursor}&wait={wait}", timeout=wait + 30)
        cursor = page["next"]
        for event in page["events"]:
            message = event["message"]
            if event["conversation"] != uuid or event["type"] != "message.received":
                continue
            if message["automated"]:
                print(f"automated answer ignored: {message['automated']}", flush=True)
                continue
            # 4. The customer's new words (replyd cut the quoted history).
            text = (message["reply_text"] or "").strip().splitlines() or [""]
            print(f"customer replied: {printable(text[0])}")
            for line in text[1:]:
                print(f"    {printable(line)}")
            # Attachments: saved under the name replyd made safe, never the sender's own.
            for attachment in message["attachments"]:
                if not attachment["kept"]:
                    continue
                _, _, data = api.call("GET", attachment["url"])
                print(f"attachment: {printable(attachment['safe_filename'])} "
                      f"({attachment['content_type']}, {len(data)} bytes)")
            return 0
    print("helpdesk: no answer in time", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
