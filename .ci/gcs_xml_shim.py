#!/usr/bin/env python3
"""Google Cloud Storage's XML API in front of fake-gcs-server's JSON API, for the tests.

    gcs_xml_shim.py LISTEN_PORT UPSTREAM_PORT STATE_DIR

object_store speaks GCS's XML API (objects put, read, copied and deleted at /BUCKET/OBJECT,
multipart uploads as in S3). fake-gcs-server answers listings there, but not the rest; it has
the JSON API for everything. This shim, on 127.0.0.1:LISTEN_PORT, turns each XML request into
the JSON requests that do the same thing on 127.0.0.1:UPSTREAM_PORT:

- PUT object (with `x-goog-if-generation-match: 0`: only if absent) -> media upload;
- PUT with `x-goog-copy-source` -> copyTo (with ifGenerationMatch=0 when asked);
- GET/HEAD object (ranges too) -> object metadata + alt=media download, with the ETag,
  Last-Modified and x-goog-generation headers of the XML API;
- DELETE object -> delete;
- multipart uploads: parts are kept in STATE_DIR until the upload completes (then the object is
  uploaded whole from them) or is aborted (then they are removed);
- listings (GET /BUCKET?list-type=2) go to fake-gcs-server as they are, except that a missing
  bucket is answered 404 (NoSuchBucket), as GCS does, not 500.

What the object store asks of it is all it does: no ACLs, no versions, no signed URLs.
"""

import email.utils
import http.client
import http.server
import json
import os
import shutil
import sys
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

HOST = "127.0.0.1"
CHUNK = 1 << 20


def upstream(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    conn.request(method, path, body=body, headers=headers or {})
    return conn, conn.getresponse()


def quote(s):
    return urllib.parse.quote(s, safe="")


class Shim(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream_port = 0
    state = "."
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def split(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        parts = parsed.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        obj = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        return bucket, obj, query, parsed.query

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status, code, message):
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>"
        ).encode()
        self.send(status, body, {"Content-Type": "application/xml"})

    def relay_error(self, resp):
        data = resp.read()
        status = resp.status
        if status == 412:
            return self.error(412, "PreconditionFailed", "At least one precondition failed")
        if status == 404:
            return self.error(404, "NoSuchKey", "The specified key does not exist")
        self.send(status, data, {"Content-Type": resp.getheader("Content-Type", "text/plain")})

    def object_headers(self, meta):
        updated = meta.get("updated") or meta.get("timeCreated")
        headers = {
            "ETag": meta["etag"] if meta["etag"].startswith('"') else f'"{meta["etag"]}"',
            "x-goog-generation": str(meta.get("generation", "1")),
        }
        if updated:
            from datetime import datetime

            stamp = datetime.fromisoformat(updated.replace("Z", "+00:00"))
            headers["Last-Modified"] = email.utils.format_datetime(stamp, usegmt=True)
        return headers

    def metadata(self, bucket, obj):
        conn, resp = upstream(
            self.upstream_port, "GET", f"/storage/v1/b/{quote(bucket)}/o/{quote(obj)}"
        )
        data = resp.read()
        conn.close()
        return resp.status, (json.loads(data) if resp.status == 200 else None)

    # -- verbs ------------------------------------------------------------------------------

    def do_GET(self):
        bucket, obj, query, raw_query = self.split()
        if not obj:
            return self.list(bucket, raw_query)
        status, meta = self.metadata(bucket, obj)
        if status != 200:
            return self.error(404, "NoSuchKey", "The specified key does not exist")
        headers = self.object_headers(meta)
        size = int(meta.get("size", 0))
        if self.command == "HEAD":
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            return
        fwd = {}
        if self.headers.get("Range"):
            fwd["Range"] = self.headers["Range"]
        conn, resp = upstream(
            self.upstream_port,
            "GET",
            f"/storage/v1/b/{quote(bucket)}/o/{quote(obj)}?alt=media",
            fwd,
        )
        if resp.status not in (200, 206):
            self.relay_error(resp)
            conn.close()
            return
        self.send_response(resp.status)
        for k, v in headers.items():
            self.send_header(k, v)
        if resp.getheader("Content-Range"):
            self.send_header("Content-Range", resp.getheader("Content-Range"))
        length = resp.getheader("Content-Length")
        self.send_header("Content-Length", length)
        self.end_headers()
        left = int(length)
        while left > 0:
            chunk = resp.read(min(CHUNK, left))
            if not chunk:
                break
            self.wfile.write(chunk)
            left -= len(chunk)
        conn.close()

    do_HEAD = do_GET

    def list(self, bucket, raw_query):
        conn, resp = upstream(
            self.upstream_port, "GET", f"/{quote(bucket)}?{raw_query}", {"Host": self.headers["Host"]}
        )
        data = resp.read()
        conn.close()
        if resp.status != 200 and b"no bucket named" in data:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
        self.send(resp.status, data, {"Content-Type": resp.getheader("Content-Type", "application/xml")})

    def do_PUT(self):
        bucket, obj, query, _ = self.split()
        if "uploadId" in query:
            return self.put_part(query["uploadId"], int(query["partNumber"]))
        create = self.headers.get("x-goog-if-generation-match") == "0"
        source = self.headers.get("x-goog-copy-source")
        length = 0 if source else int(self.headers.get("Content-Length") or 0)
        if create:
            # fake-gcs-server ignores ifGenerationMatch: the shim checks, and makes the check and
            # the write one step for every conditional write that passes through it.
            with self.lock:
                if self.metadata(bucket, obj)[0] == 200:
                    self.rfile.read(length)
                    return self.error(412, "PreconditionFailed", "At least one precondition failed")
                conn, resp = self.write(bucket, obj, source, length)
        else:
            conn, resp = self.write(bucket, obj, source, length)
        meta = self.uploaded(conn, resp)
        if meta is not None:
            self.send(200, b"", self.object_headers(meta))

    def uploaded(self, conn, resp):
        """The written object's metadata, or None once the server's error was relayed."""
        try:
            if resp.status not in (200, 201):
                self.relay_error(resp)
                return None
            return json.loads(resp.read())
        finally:
            conn.close()

    def write(self, bucket, obj, source, length):
        """Copies `source` (`bucket/object`) to the object, or uploads the request's body."""
        if source:
            self.body()
            src_bucket, src_obj = urllib.parse.unquote(source).lstrip("/").split("/", 1)
            path = (
                f"/storage/v1/b/{quote(src_bucket)}/o/{quote(src_obj)}"
                f"/copyTo/b/{quote(bucket)}/o/{quote(obj)}"
            )
            return upstream(self.upstream_port, "POST", path, {"Content-Length": "0"}, b"")
        path = f"/upload/storage/v1/b/{quote(bucket)}/o?uploadType=media&name={quote(obj)}"
        return self.upload(path, length, self.rfile)

    def upload(self, path, length, reader):
        """Streams `length` bytes of `reader` upstream."""
        conn = http.client.HTTPConnection(HOST, self.upstream_port, timeout=120)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        left = length
        while left > 0:
            chunk = reader.read(min(CHUNK, left))
            if not chunk:
                break
            conn.send(chunk)
            left -= len(chunk)
        return conn, conn.getresponse()

    # -- multipart uploads -------------------------------------------------------------------

    def upload_dir(self, upload_id):
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            return None
        path = os.path.join(self.state, "uploads", upload_id)
        return path if os.path.isdir(path) else None

    def do_POST(self):
        bucket, obj, query, _ = self.split()
        if "uploads" in query:
            self.body()
            upload_id = uuid.uuid4().hex
            os.makedirs(os.path.join(self.state, "uploads", upload_id))
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult>'
                f"<Bucket>{bucket}</Bucket><Key>{obj}</Key><UploadId>{upload_id}</UploadId>"
                "</InitiateMultipartUploadResult>"
            ).encode()
            return self.send(200, body, {"Content-Type": "application/xml"})
        if "uploadId" in query:
            return self.complete(bucket, obj, query["uploadId"])
        self.body()
        self.error(400, "InvalidRequest", "unsupported request")

    def put_part(self, upload_id, number):
        directory = self.upload_dir(upload_id)
        length = int(self.headers.get("Content-Length") or 0)
        if directory is None:
            self.rfile.read(length)
            return self.error(404, "NoSuchUpload", "The specified upload does not exist")
        digest = uuid.uuid4().hex
        with open(os.path.join(directory, f"{number:05d}"), "wb") as f:
            left = length
            while left > 0:
                chunk = self.rfile.read(min(CHUNK, left))
                if not chunk:
                    break
                f.write(chunk)
                left -= len(chunk)
        self.send(200, b"", {"ETag": f'"{digest}"'})

    def complete(self, bucket, obj, upload_id):
        body = self.body()
        directory = self.upload_dir(upload_id)
        if directory is None:
            return self.error(404, "NoSuchUpload", "The specified upload does not exist")
        numbers = [int(e.text) for e in ET.fromstring(body).iter() if e.tag.endswith("PartNumber")]
        files = [os.path.join(directory, f"{n:05d}") for n in numbers]
        length = sum(os.path.getsize(f) for f in files)

        class Joined:
            def __init__(self):
                self.files = iter(files)
                self.current = None

            def read(self, n):
                while True:
                    if self.current is None:
                        name = next(self.files, None)
                        if name is None:
                            return b""
                        self.current = open(name, "rb")
                    chunk = self.current.read(n)
                    if chunk:
                        return chunk
                    self.current.close()
                    self.current = None

        path = f"/upload/storage/v1/b/{quote(bucket)}/o?uploadType=media&name={quote(obj)}"
        conn, resp = self.upload(path, length, Joined())
        meta = self.uploaded(conn, resp)
        if meta is None:
            return
        shutil.rmtree(directory, ignore_errors=True)
        headers = self.object_headers(meta)
        result = (
            '<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult>'
            f"<Bucket>{bucket}</Bucket><Key>{obj}</Key><ETag>{headers['ETag']}</ETag>"
            "</CompleteMultipartUploadResult>"
        ).encode()
        headers["Content-Type"] = "application/xml"
        self.send(200, result, headers)

    def do_DELETE(self):
        bucket, obj, query, _ = self.split()
        self.body()
        if "uploadId" in query:
            directory = self.upload_dir(query["uploadId"])
            if directory:
                shutil.rmtree(directory, ignore_errors=True)
            return self.send(204)
        conn, resp = upstream(
            self.upstream_port, "DELETE", f"/storage/v1/b/{quote(bucket)}/o/{quote(obj)}"
        )
        if resp.status not in (200, 204):
            self.relay_error(resp)
        else:
            resp.read()
            self.send(204)
        conn.close()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    listen, up, state = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(os.path.join(state, "uploads"), exist_ok=True)
    Shim.upstream_port = up
    Shim.state = state
    server = http.server.ThreadingHTTPServer((HOST, listen), Shim)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
