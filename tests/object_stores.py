"""Bucket creation and listing on the object-store emulators, through each
vendor's own API (not auditfed's object_store code): the independent view of
what landed in the store.

    object_stores.py create KIND ENDPOINT BUCKET
    object_stores.py list KIND ENDPOINT BUCKET PREFIX   (names relative to PREFIX/)

KIND is s3 (moto server: S3 REST), gcs (fake-gcs-server: JSON API) or azure
(Azurite, ENDPOINT ending in /devstoreaccount1: azure-storage-blob).
Exit 3 when a needed package is missing.
"""

import json
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

# Azurite's documented development account (public, emulator only).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


def azure_container(endpoint, bucket):
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError as e:
        print(f"azure-storage-blob missing: {e}")
        sys.exit(3)
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    return BlobServiceClient.from_connection_string(conn).get_container_client(bucket)


def create(kind, endpoint, bucket):
    if kind == "s3":
        http("PUT", f"{endpoint}/{bucket}")
    elif kind == "gcs":
        http(
            "POST",
            f"{endpoint}/storage/v1/b",
            json.dumps({"name": bucket}).encode(),
            {"Content-Type": "application/json"},
        )
    elif kind == "azure":
        azure_container(endpoint, bucket).create_container()
    else:
        raise SystemExit(f"unknown kind {kind}")


def names(kind, endpoint, bucket, prefix):
    prefix = prefix.strip("/") + "/"
    if kind == "s3":
        token, out = None, []
        ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = ET.fromstring(http("GET", f"{endpoint}/{bucket}?{urllib.parse.urlencode(query)}"))
            out += [k.text for k in root.findall("s3:Contents/s3:Key", ns)]
            token = root.findtext("s3:NextContinuationToken", namespaces=ns)
            if not token:
                return out
    if kind == "gcs":
        token, out = None, []
        while True:
            query = {"prefix": prefix}
            if token:
                query["pageToken"] = token
            page = json.loads(
                http("GET", f"{endpoint}/storage/v1/b/{bucket}/o?{urllib.parse.urlencode(query)}")
            )
            out += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken")
            if not token:
                return out
    if kind == "azure":
        return [b.name for b in azure_container(endpoint, bucket).list_blobs(name_starts_with=prefix)]
    raise SystemExit(f"unknown kind {kind}")


def main():
    command, kind, endpoint, bucket = sys.argv[1:5]
    if command == "create":
        create(kind, endpoint, bucket)
    elif command == "list":
        prefix = sys.argv[5]
        for name in names(kind, endpoint, bucket, prefix):
            print(name[len(prefix.strip("/")) + 1 :])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
