"""A Sluice producer in Python, with boto3 and nothing of Sluice's own.

Sluice's contract is JSON on SQS: a request is an SQS message whose body follows
schema/request.v1.json; its result is a JSON document stored in the requests table
(DynamoDB, key "id" = "<producer>#<id>", attribute "result") and, when the request names
one, sent to its replyTo queue or SNS topic.

Settings come from the environment that `npm start -- --serve` prints (or your deployment):
  SLUICE_QUEUE_URLS      request queue URLs by priority, JSON: {"high": …, "normal": …, "low": …}
  SLUICE_REQUESTS_TABLE  the requests table
  SLUICE_PRODUCER        the producer whose queue you send to (default: default)
  AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, credentials: as boto3 reads them

Usage:
  python3 sluice_producer.py demo [--account 111111111111]   submit a batch, print the results
  python3 sluice_producer.py submit FILE                       requests as a JSON array (- for stdin)
  python3 sluice_producer.py result ID [--wait SECONDS]        print a request's result as JSON
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import boto3

# The published JSON Schema of a request, next to this example in the repository.
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "request.v1.json"


def queue_url(priority="normal"):
    """The request queue of a priority; a priority without a queue of its own uses normal's."""
    urls = json.loads(os.environ["SLUICE_QUEUE_URLS"])
    return urls.get(priority) or urls["normal"]


def schema_problems(request):
    """Problems JSON Schema finds in a request, or None when jsonschema is not installed.

    Validating first is optional: the dispatcher validates every message itself and rejects
    an invalid one with a result naming each field and rule. It also checks what JSON Schema
    cannot express (nesting depth, "__proto__" keys) and what the deployment allows.
    """
    try:
        import jsonschema
    except ImportError:
        return None
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
        for error in validator.iter_errors(request)
    ]


def submit_batch(sqs, requests):
    """Sends requests with SendMessageBatch, ten at a time, each to its priority's queue.

    Returns (sent ids, refused) where refused lists (id, code, message) for each message SQS
    did not take.
    """
    sent, refused = [], []
    by_queue = {}
    for request in requests:
        by_queue.setdefault(queue_url(request.get("priority", "normal")), []).append(request)
    for url, batch_requests in by_queue.items():
        for start in range(0, len(batch_requests), 10):
            batch = batch_requests[start : start + 10]
            answer = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(request)}
                    for i, request in enumerate(batch)
                ],
            )
            sent += [batch[int(ok["Id"])]["id"] for ok in answer.get("Successful", [])]
            refused += [
                (batch[int(f["Id"])]["id"], f["Code"], f.get("Message", ""))
                for f in answer.get("Failed", [])
            ]
    return sent, refused


def get_result(dynamodb, request_id):
    """The result of a request, or None while it is in flight (or not received yet).

    Without any Sluice client: GetItem on the requests table, key "id" = "<producer>#<id>"
    (ids live in their producer's namespace); a finished request's item has the result
    document as a JSON string in the attribute "result" ("status" says waiting or running
    before that).
    """
    producer = os.environ.get("SLUICE_PRODUCER") or "default"
    item = dynamodb.get_item(
        TableName=os.environ["SLUICE_REQUESTS_TABLE"],
        Key={"id": {"S": f"{producer}#{request_id}"}},
        ConsistentRead=True,
    ).get("Item")
    if item is None or "result" not in item:
        return None
    return json.loads(item["result"]["S"])


def wait_for_result(dynamodb, request_id, timeout_s=60.0, poll_s=0.5):
    """Polls get_result until the request finishes; raises TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = get_result(dynamodb, request_id)
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"request {request_id}: no result after {timeout_s} s")
        time.sleep(poll_s)


def describe(result):
    """One line per result; a rejection lists each problem with its field and rule."""
    if result["status"] == "succeeded":
        return f"{result['id']}: succeeded after {result['attempts']} attempt(s)"
    if result["status"] == "failed":
        error = result["error"]
        return f"{result['id']}: failed with {error['code']}: {error['message']}"
    problems = "".join(
        f"\n  {p['field']} ({p['rule']}): {p['message']}" for p in result["error"]["problems"]
    )
    return f"{result.get('id', '(no id)')}: rejected{problems}"


def demo(account, prefix):
    """Submits a small batch, prints what happened to each request, returns an exit code."""
    target = {"account": account, "region": "us-east-1"}
    requests = [
        {
            "v": 1,
            "id": f"{prefix}-describe",
            "target": target,
            "call": {"service": "ec2", "operation": "DescribeInstances", "input": {}},
        },
        {
            "v": 1,
            "id": f"{prefix}-quotas",
            "target": target,
            "call": {
                "service": "service-quotas",
                "operation": "ListServiceQuotas",
                "input": {"ServiceCode": "ec2"},
            },
            "priority": "high",
        },
        # Well formed, but the deployment does not allow it: the dispatcher rejects it.
        {
            "v": 1,
            "id": f"{prefix}-terminate",
            "target": target,
            "call": {
                "service": "ec2",
                "operation": "TerminateInstances",
                "input": {"InstanceIds": ["i-0123456789abcdef0"]},
            },
        },
        # Malformed: JSON Schema refuses it before it is sent (when jsonschema is installed).
        {
            "v": 1,
            "id": f"{prefix}-typo",
            "target": {"account": "1111", "region": "us-east-1"},
            "call": {"service": "ec2", "operation": "DescribeInstances", "input": {}},
        },
    ]
    to_send = []
    for request in requests:
        problems = schema_problems(request)
        if problems:
            print(f"{request['id']}: not sent, the JSON Schema says: {'; '.join(problems)}")
        else:
            to_send.append(request)
    if schema_problems(requests[0]) is None:
        print("jsonschema is not installed: sending without validating first")

    sqs = boto3.client("sqs")
    dynamodb = boto3.client("dynamodb")
    sent, refused = submit_batch(sqs, to_send)
    print(f"sent {len(sent)} requests, {len(refused)} refused by SQS")
    for request_id, code, message in refused:
        print(f"{request_id}: refused by SQS: {code} {message}")
    for request_id in sent:
        print(describe(wait_for_result(dynamodb, request_id)))
    return 0 if not refused else 1


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo_args = commands.add_parser("demo", help="submit a batch and print the results")
    demo_args.add_argument("--account", default="111111111111")
    demo_args.add_argument("--prefix", default=f"py-{int(time.time())}")
    submit_args = commands.add_parser("submit", help="submit requests from a JSON array file")
    submit_args.add_argument("file")
    result_args = commands.add_parser("result", help="print a request's result as JSON")
    result_args.add_argument("id")
    result_args.add_argument("--wait", type=float, metavar="SECONDS")
    args = parser.parse_args(argv)

    if args.command == "demo":
        return demo(args.account, args.prefix)
    if args.command == "submit":
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        sent, refused = submit_batch(boto3.client("sqs"), json.loads(text))
        for request_id in sent:
            print(f"sent {request_id}")
        for request_id, code, message in refused:
            print(f"refused {request_id}: {code} {message}", file=sys.stderr)
        return 0 if not refused else 1
    dynamodb = boto3.client("dynamodb")
    if args.wait is not None:
        result = wait_for_result(dynamodb, args.id, args.wait)
    else:
        result = get_result(dynamodb, args.id)
        if result is None:
            print(f"request {args.id}: not finished yet (or unknown)", file=sys.stderr)
            return 3
    print(json.dumps(result))
    return 0 if result["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
