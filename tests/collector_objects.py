"""Puts objects where the object collectors find them, through each vendor's
own SDK or API (not auditfed's object_store code), and inspects SQS queues.

    collector_objects.py s3-put ENDPOINT BUCKET DIR          every file under DIR, key = its path in DIR
                                                             (a file NAME.meta.json beside NAME holds its user metadata,
                                                             and "__storage_class" its storage class)
    collector_objects.py s3-queue ENDPOINT BUCKET QUEUE      creates QUEUE, sends BUCKET's ObjectCreated events to it;
                                                             prints the queue URL
    collector_objects.py sqs-send ENDPOINT QUEUE_URL FILE    one message, FILE's text as the body
    collector_objects.py sqs-count ENDPOINT QUEUE_URL        prints visible+in-flight messages
    collector_objects.py azure-append ENDPOINT CONTAINER BLOB FILE   appends FILE to an append blob (created if absent)
    collector_objects.py gcs-put ENDPOINT BUCKET NAME FILE

ENDPOINT: moto server (S3+SQS), Azurite (ending in /devstoreaccount1), fake-gcs-server.
"""

import json
import os
import sys
import urllib.parse
import urllib.request

from object_stores import azure_container


def aws(service, endpoint):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_put(endpoint, bucket, root):
    s3 = aws("s3", endpoint)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".meta.json"):
                continue
            path = os.path.join(folder, name)
            key = os.path.relpath(path, root).replace(os.sep, "/")
            meta = {}
            if os.path.exists(path + ".meta.json"):
                with open(path + ".meta.json") as f:
                    meta = json.load(f)
            extra = {}
            # Not metadata: the object's storage class (GLACIER: archived, unreadable until restored).
            if "__storage_class" in meta:
                extra["StorageClass"] = meta.pop("__storage_class")
            with open(path, "rb") as f:
                s3.put_object(Bucket=bucket, Key=key, Body=f.read(), Metadata=meta, **extra)


def s3_queue(endpoint, bucket, queue):
    sqs = aws("sqs", endpoint)
    url = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "3"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws("s3", endpoint).put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    print(url)


def sqs_count(endpoint, url):
    attrs = aws("sqs", endpoint).get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    print(int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]))


def azure_append(endpoint, container, blob, path):
    client = azure_container(endpoint, container)
    try:
        client.create_container()
    except Exception:  # exists
        pass
    blob_client = client.get_blob_client(blob)
    if not blob_client.exists():
        blob_client.create_append_blob()
    with open(path, "rb") as f:
        blob_client.append_block(f.read())


def gcs_put(endpoint, bucket, name, path):
    with open(path, "rb") as f:
        body = f.read()
    query = urllib.parse.urlencode({"uploadType": "media", "name": name})
    req = urllib.request.Request(
        f"{endpoint}/upload/storage/v1/b/{bucket}/o?{query}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    urllib.request.urlopen(req, timeout=30).read()


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "s3-put":
        s3_put(*args)
    elif command == "s3-queue":
        s3_queue(*args)
    elif command == "sqs-send":
        with open(args[2]) as f:
            aws("sqs", args[0]).send_message(QueueUrl=args[1], MessageBody=f.read())
    elif command == "sqs-count":
        sqs_count(*args)
    elif command == "azure-append":
        azure_append(*args)
    elif command == "gcs-put":
        gcs_put(*args)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
