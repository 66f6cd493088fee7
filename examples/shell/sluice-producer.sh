#!/usr/bin/env bash
# A Sluice producer with the AWS CLI and jq: send one request, wait for its result, print it.
# Reads what `npm start -- --serve` prints (or your deployment's values): SLUICE_QUEUE_URLS,
# SLUICE_REQUESTS_TABLE, SLUICE_PRODUCER (default: default), AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB and
# credentials. Usage: sluice-producer.sh [ID] [ACCOUNT]; exit 0 when the call succeeded.
set -euo pipefail
id="${1:-sh-$(date +%s)}"
account="${2:-111111111111}"

# AWS CLI v1 pins SQS to its legacy endpoint unless --endpoint-url is given: pass the variable.
sqs_endpoint=()
if [ -n "${AWS_ENDPOINT_URL_SQS:-}" ]; then sqs_endpoint=(--endpoint-url "$AWS_ENDPOINT_URL_SQS"); fi

request=$(jq -cn --arg id "$id" --arg account "$account" '{
  v: 1, id: $id,
  target: { account: $account, region: "us-east-1" },
  call: { service: "ec2", operation: "DescribeInstances", input: { MaxResults: 5 } }
}')
aws sqs send-message "${sqs_endpoint[@]}" --queue-url "$(jq -r .normal <<<"$SLUICE_QUEUE_URLS")" \
  --message-body "$request" --query MessageId --output text

# The result is a JSON document in the requests table's attribute "result", once finished,
# under the key <producer>#<id>: ids live in their producer's namespace.
key="${SLUICE_PRODUCER:-default}#$id"
for _ in $(seq 120); do
  result=$(aws dynamodb get-item --table-name "$SLUICE_REQUESTS_TABLE" --consistent-read \
    --key "$(jq -cn --arg key "$key" '{id: {S: $key}}')" --query Item.result.S --output text)
  if [ "$result" != "None" ]; then
    echo "$result"
    jq -e '.status == "succeeded"' <<<"$result" >/dev/null
    exit
  fi
  sleep 0.5
done
echo "no result for $id after 60 s" >&2
exit 3
