"""A local stand-in for the submission APIs spamhattan pushes to: URLhaus, ThreatFox,
MalwareBazaar (abuse.ch) and a MISP instance's /events/add and /events/edit/<uuid>.

No internet: it binds 127.0.0.1:0 and runs in a thread of the test process. It VALIDATES every
request against the fields the services document (required fields, allowed values, the key
header) and refuses a bad one the way the service would (an abuse.ch `query_status` error
string, a MISP 403/404 JSON error); only valid requests are recorded as submissions, so a test
that finds its indicator in `accepted` knows the request was well formed. The field rules are
written from the public API documentation; they were not checked against the live services.

    stand = StandIn(key="k"); stand.start(); ... stand.url("threatfox"); stand.accepted["threatfox"]
"""

import copy
import email.parser
import email.policy
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATHS = {"urlhaus": "/urlhaus/api/", "threatfox": "/threatfox/api/v1/", "malwarebazaar": "/mb/api/v1/",
         "misp": "/misp"}
THREATFOX_THREAT_TYPES = {"botnet_cc", "payload_delivery", "payload"}
THREATFOX_IOC_TYPES = {"ip:port", "domain", "url", "md5_hash", "sha256_hash"}
MB_DELIVERY = {"email_attachment", "email_link", "web_download", "web_drive-by", "multiple", "other"}
MAX_BODY = 32 * 1024 * 1024
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Refused(Exception):
    """A request the service would refuse: (HTTP status, body)."""

    def __init__(self, status, body):
        super().__init__(body)
        self.status, self.body = status, body


def abusech_error(status):
    return Refused(200, {"query_status": status})


class StandIn:
    def __init__(self, key="stand-in-key-0123456789"):
        self.key = key
        self.accepted = {k: [] for k in PATHS}
        self.refused = []
        self.requests = []
        self.fail_next = {k: 0 for k in PATHS}
        self.misp_events = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def url(self, service):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{PATHS[service]}"

    # ---- validation per service ----

    def _abusech_key(self, headers):
        if headers.get("Auth-Key") != self.key:
            raise abusech_error("unknown_auth_key")

    def _json(self, headers, body):
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            raise abusech_error("http_post_expected")
        try:
            return json.loads(body)
        except ValueError:
            raise abusech_error("json_parse_error")

    def urlhaus(self, headers, body):
        self._abusech_key(headers)
        data = self._json(headers, body)
        if data.get("anonymous") not in ("0", "1"):
            raise abusech_error("invalid_anonymous")
        subs = data.get("submission")
        if not isinstance(subs, list) or not subs:
            raise abusech_error("no_submission")
        for s in subs:
            if not isinstance(s, dict) or not re.match(r"^https?://[^/\s]+", str(s.get("url", ""))):
                raise abusech_error("invalid_url")
            if s.get("threat") != "malware_download":
                raise abusech_error("invalid_threat")
            tags = s.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise abusech_error("invalid_tags")
        return subs, {"query_status": "ok"}

    def threatfox(self, headers, body):
        self._abusech_key(headers)
        data = self._json(headers, body)
        if data.get("query") != "submit_ioc":
            raise abusech_error("unknown_query")
        if data.get("threat_type") not in THREATFOX_THREAT_TYPES:
            raise abusech_error("illegal_threat_type")
        ioc_type = data.get("ioc_type")
        if ioc_type not in THREATFOX_IOC_TYPES:
            raise abusech_error("illegal_ioc_type")
        if not isinstance(data.get("malware"), str) or not data["malware"]:
            raise abusech_error("illegal_malware")
        conf = data.get("confidence_level")
        if not isinstance(conf, int) or not 0 <= conf <= 100:
            raise abusech_error("illegal_confidence_level")
        if data.get("anonymous", 0) not in (0, 1):
            raise abusech_error("illegal_anonymous")
        iocs = data.get("iocs")
        if not isinstance(iocs, list) or not iocs:
            raise abusech_error("no_iocs")
        for v in iocs:
            ok = {"url": lambda v: re.match(r"^https?://", v),
                  "domain": lambda v: re.match(r"^[a-z0-9.-]+\.[a-z0-9-]+$", v, re.I),
                  "sha256_hash": lambda v: HEX64.match(v),
                  "md5_hash": lambda v: re.match(r"^[0-9a-f]{32}$", v),
                  "ip:port": lambda v: re.match(r"^[0-9.]+:\d+$", v)}[ioc_type](str(v))
            if not ok:
                raise abusech_error("illegal_ioc")
        done = [i for i in iocs if (ioc_type, i) in {(r["ioc_type"], r["ioc"]) for r in self.accepted["threatfox"]}]
        new = [i for i in iocs if i not in done]
        recs = [dict(data, ioc=i, iocs=None) for i in new]
        return recs, {"query_status": "ok", "data": {"ok": new, "duplicated": done, "ignored": []}}

    def malwarebazaar(self, headers, body):
        self._abusech_key(headers)
        ctype = headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/form-data"):
            raise abusech_error("http_post_expected")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        fields = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        if "json_data" not in fields:
            raise abusech_error("json_data_missing")
        try:
            meta = json.loads(fields["json_data"][1])
        except ValueError:
            raise abusech_error("json_parse_error")
        if meta.get("delivery_method") not in MB_DELIVERY:
            raise abusech_error("unknown_delivery_method")
        if meta.get("anonymous", 0) not in (0, 1):
            raise abusech_error("illegal_anonymous")
        if "file" not in fields or not fields["file"][1]:
            raise abusech_error("no_file")
        name, data = fields["file"]
        sha = hashlib.sha256(data).hexdigest()
        if any(r["sha256"] == sha for r in self.accepted["malwarebazaar"]):
            return [], {"query_status": "file_already_known"}
        return [dict(meta, sha256=sha, file_name=name, size=len(data))], {"query_status": "inserted"}

    def misp(self, path, headers, body):
        if headers.get("Authorization") != self.key:
            raise Refused(403, {"name": "Authentication failed.", "message": "Authentication failed.",
                                "url": path})
        if "application/json" not in (headers.get("Accept") or ""):
            raise Refused(406, {"message": "Accept: application/json required", "url": path})
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            raise Refused(400, {"message": "Content-Type: application/json required", "url": path})
        try:
            event = json.loads(body)["Event"]
        except (ValueError, KeyError, TypeError):
            raise Refused(400, {"message": "Event could not be saved: no Event object", "url": path})
        for field in ("uuid", "info", "date", "threat_level_id", "analysis"):
            if not event.get(field):
                raise Refused(403, {"message": f"Event could not be saved: {field} is required",
                                    "url": path, "errors": {field: ["required"]}})
        try:
            from pymisp import MISPEvent  # the consumer's own parser, when available
            MISPEvent().from_dict(Event=copy.deepcopy(event))  # it consumes its input
        except ImportError:
            pass
        except Exception as e:  # noqa: BLE001 - any parse failure is a refusal
            raise Refused(403, {"message": f"Event could not be saved: {e}", "url": path})
        uuid = event["uuid"]
        if path.endswith("/events/add"):
            if uuid in self.misp_events:
                raise Refused(403, {"name": "Event could not be saved: An event with this uuid already exists.",
                                    "message": "An event with this uuid already exists.", "url": path})
            self.misp_events[uuid] = event
            return [dict(event, _op="add")], {"Event": dict(event, id=str(len(self.misp_events)))}
        m = re.search(r"/events/edit/([0-9a-f-]{36})$", path)
        if not m or m.group(1) != uuid:
            raise Refused(404, {"message": "Invalid event", "url": path})
        if uuid not in self.misp_events:
            raise Refused(404, {"message": "Invalid event", "url": path})
        self.misp_events[uuid] = event
        return [dict(event, _op="edit")], {"Event": event}

    # ---- HTTP ----

    def _route(self, path):
        for service, prefix in PATHS.items():
            if service == "misp" and path.startswith(prefix + "/events/"):
                return service
            if path == prefix:
                return service
        return None

    def _handler(stand):  # noqa: N805 - the closure's `self` is the request handler
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    return self._send(413, {"query_status": "file_size_exceeded"})
                body = self.rfile.read(length)
                service = stand._route(self.path)
                with stand.lock:
                    stand.requests.append((service, self.path, dict(self.headers), body))
                    if service is None:
                        return self._send(404, {"message": "not found"})
                    if stand.fail_next[service] > 0:
                        stand.fail_next[service] -= 1
                        return self._send(503, {"message": "stand-in told to fail"})
                    try:
                        if service == "misp":
                            recs, answer = stand.misp(self.path, self.headers, body)
                        else:
                            recs, answer = getattr(stand, service)(self.headers, body)
                    except Refused as r:
                        stand.refused.append((service, r.body))
                        return self._send(r.status, r.body)
                    stand.accepted[service].extend(recs)
                return self._send(200, answer)

            def _send(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

        return Handler
