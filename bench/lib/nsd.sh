# Sourced by bench/verify-*.sh: starts NSD on 127.0.0.1:$DNS_PORT serving the zone org.
# with example.org (the envelope and header sender of smtp-source: SPF naming 127.0.0.1,
# DMARC p=none); the whole zone, so that the DMARC tree walk's `_dmarc.org` gets an answer
# (NXDOMAIN), not a refusal that would be a temperror, looked up again for every message.
# Needs $TMP (a scratch directory); sets NSD_PID (the caller kills it on exit).
NSD=$(command -v nsd || echo /usr/sbin/nsd)
[ -x "$NSD" ] || { echo "$0: nsd is missing (apt-get install nsd)" >&2; exit 1; }
DNS_PORT=${DNS_PORT:-25353}
printf '%s\n' \
  '$ORIGIN org.' '$TTL 3600' \
  '@ IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 3600' \
  '@ IN NS ns.example.org.' 'ns.example IN A 127.0.0.1' \
  'example IN TXT "v=spf1 ip4:127.0.0.1 -all"' '_dmarc.example IN TXT "v=DMARC1; p=none"' \
  >"$TMP/org.zone"
printf '%s\n' 'server:' "  ip-address: 127.0.0.1@$DNS_PORT" "  port: $DNS_PORT" \
  '  username: ""' '  chroot: ""' "  zonesdir: \"$TMP\"" '  database: ""' \
  "  pidfile: \"$TMP/nsd.pid\"" "  xfrdfile: \"$TMP/xfrd.state\"" \
  "  zonelistfile: \"$TMP/zone.list\"" "  logfile: \"$TMP/nsd.log\"" \
  '  server-count: 1' '  do-ip6: no' 'remote-control:' '  control-enable: no' \
  'zone:' '  name: "org"' '  zonefile: "org.zone"' >"$TMP/nsd.conf"
"$NSD" -d -c "$TMP/nsd.conf" &
NSD_PID=$!
for _ in $(seq 100); do grep -q "nsd started" "$TMP/nsd.log" 2>/dev/null && break; sleep 0.1; done
grep -q "nsd started" "$TMP/nsd.log" || { echo "$0: nsd did not start" >&2; exit 1; }
