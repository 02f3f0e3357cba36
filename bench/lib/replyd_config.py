#!/usr/bin/env python3
"""Write replyd's benchmark config: the repo's smtpd.toml with a few keys overridden.

  replyd_config.py --template /work/main/smtpd.toml --out CFG --set store.path='"/tmp/x.db"' ...

Each --set SECTION.KEY=VALUE (VALUE is a TOML literal) replaces that key's line inside
[SECTION], adds it right after the [SECTION] header when absent, or appends the section when
the template has none. Everything else (comments, other keys) is kept as written. Without a
template file, a minimal config is used:
  [server] listen = ["127.0.0.1:2525"], hostname, domains = ["support.example.com"];
  [store] path.
The result is checked with tomllib and the effective overrides are printed.
"""
import argparse
import os
import re
import sys
import tomllib

FALLBACK = """\
# Fallback used by bench/run.sh while /work/main/smtpd.toml does not exist.
[server]
listen = ["127.0.0.1:2525"]
hostname = "localhost"
domains = ["support.example.com"]

[store]
path = "replyd.sqlite3"
"""

HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def apply(text: str, section: str, key: str, value: str) -> str:
    lines = text.splitlines()
    cur = None
    header_idx = None
    key_re = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    for i, line in enumerate(lines):
        m = HEADER.match(line)
        if m:
            # "[[x]]" (array of tables) never counts as section "x".
            cur = m.group(2) if m.group(1) == "[" else "[[" + m.group(2)
            if cur == section:
                header_idx = i
            continue
        if cur == section and key_re.match(line):
            lines[i] = f"{key} = {value}  # set by bench/run.sh"
            return "\n".join(lines) + "\n"
    if header_idx is not None:
        lines.insert(header_idx + 1, f"{key} = {value}  # set by bench/run.sh")
    else:
        lines += ["", f"[{section}]", f"{key} = {value}  # set by bench/run.sh"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--template")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = ap.parse_args()
    if args.template and os.path.exists(args.template):
        text = open(args.template).read()
        source = args.template
    else:
        text = FALLBACK
        source = "built-in fallback"
    for item in args.set:
        lhs, _, value = item.partition("=")
        section, _, key = lhs.rpartition(".")
        if not section or not key or not value:
            sys.exit(f"bad --set {item!r}")
        text = apply(text, section, key, value)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        sys.exit(f"generated config is not valid TOML: {exc}")
    with open(args.out, "w") as f:
        f.write(text)
    print(f"replyd config {args.out} from {source}; overrides: {', '.join(args.set) or 'none'}")


if __name__ == "__main__":
    main()
