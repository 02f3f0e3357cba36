"""schemathesis hooks for replyd's API (scripts/api-live).

- How to write a `message/rfc822` body, which schemathesis cannot derive from the document
  (the schema of an email message is RFC 5322, not JSON Schema): well-formed messages with
  arbitrary printable header text and body lines, which replyd stamps (or, for an unknown
  conversation, answers 404).
- A conversation that exists (REPLYD_CONVERSATION, made by the run before): half of the
  valid UUIDs drawn for a path are replaced by it, so the operations on a conversation are
  exercised beyond their 404 (except closing it, which would leave the rest only 409s).
"""

import os
import re

from hypothesis import strategies as st

import schemathesis

printable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
)
body_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=100
)


@st.composite
def messages(draw):
    subject = draw(printable)
    lines = draw(st.lists(body_line, max_size=20))
    body = "\r\n".join(lines)
    return (
        "From: Alice <alice@support.example.com>\r\n"
        "To: bob@example.org\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode("utf-8")


schemathesis.openapi.media_type("message/rfc822", messages())


KNOWN = os.environ.get("REPLYD_CONVERSATION")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    uuid = (path_parameters or {}).get("uuid")
    operation = getattr(ctx, "operation", None)
    closing = str(getattr(operation, "path", "")).endswith("/close")
    if closing or not KNOWN or not isinstance(uuid, str) or not UUID.match(uuid):
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, "uuid": KNOWN}])
