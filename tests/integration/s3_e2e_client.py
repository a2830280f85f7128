"""s3_e2e_client.py - a minimal S3 client (SigV4, path-style) for the
end-to-end tests: it reads what gnarl wrote to the test gateway without
going through gnarl's own storage code, so a bug there cannot hide itself.

Only what the tests need: list a prefix (ListObjectsV2, every page), get an
object, put one, create and delete a bucket.  Standard library only.
"""
import datetime
import hashlib
import hmac
import http.client
import urllib.parse
import xml.etree.ElementTree as ET

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _enc(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


class S3Error(Exception):
    def __init__(self, status, body):
        super().__init__("HTTP %d: %s" % (status, body[:300]))
        self.status = status
        self.body = body


class Client:
    def __init__(self, endpoint, access_key, secret_key, region="us-east-1"):
        u = urllib.parse.urlparse(endpoint)
        self.host, self.port = u.hostname, u.port or 80
        self.ak, self.sk, self.region = access_key, secret_key, region

    def _sign(self, method, path, query, headers, payload_hash):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz[:8]
        headers = dict(headers)
        headers["host"] = "%s:%d" % (self.host, self.port)
        headers["x-amz-date"] = amz
        headers["x-amz-content-sha256"] = payload_hash
        names = sorted(k.lower() for k in headers)
        canon_headers = "".join("%s:%s\n" % (k, str(headers[k]).strip()) for k in names)
        signed = ";".join(names)
        canon_query = "&".join("%s=%s" % (_enc(k), _enc(v)) for k, v in sorted(query.items()))
        canon = "\n".join([method, _enc(path, "/-_.~"), canon_query, canon_headers, signed,
                           payload_hash])
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        key = ("AWS4" + self.sk).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                    "Signature=%s" % (self.ak, scope, signed, sig))
        return headers, canon_query

    def request(self, method, path, query=None, body=b""):
        query = query or {}
        headers, q = self._sign(method, path, query, {}, hashlib.sha256(body).hexdigest())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, _enc(path, "/-_.~") + ("?" + q if q else ""), body=body,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        if r.status // 100 != 2:
            raise S3Error(r.status, data.decode("utf-8", "replace"))
        return data

    def list(self, bucket, prefix=""):
        """{key: size} of every object under prefix."""
        out, token = {}, None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            root = ET.fromstring(self.request("GET", "/" + bucket, q))
            for c in root.iter(NS + "Contents"):
                out[c.find(NS + "Key").text] = int(c.find(NS + "Size").text)
            if root.findtext(NS + "IsTruncated") != "true":
                return out
            token = root.findtext(NS + "NextContinuationToken")

    def get(self, bucket, key):
        return self.request("GET", "/%s/%s" % (bucket, key))

    def put(self, bucket, key, body):
        self.request("PUT", "/%s/%s" % (bucket, key), body=body)

    def create_bucket(self, bucket):
        self.request("PUT", "/" + bucket)

    def delete_bucket(self, bucket):
        """Delete every object, then the bucket."""
        for k in self.list(bucket):
            self.request("DELETE", "/%s/%s" % (bucket, k))
        self.request("DELETE", "/" + bucket)
