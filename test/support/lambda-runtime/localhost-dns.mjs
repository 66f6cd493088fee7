// Preload (`node --import`) of a process whose SQS client talks to fauxqs. fauxqs names its
// queues http://sqs.<region>.localhost:<port>/…, and the SQS client sends each request to the
// host of its QueueUrl (an endpoint set through AWS_ENDPOINT_URL_SQS does not change that; only
// an `endpoint` in the client's code does). *.localhost is loopback by RFC 6761, but this
// machine's resolver does not answer it: fauxqs's own patch of dns.lookup makes it resolve to
// 127.0.0.1, as the in-process tests do for the same reason.
import { interceptLocalhostDns } from 'fauxqs';

interceptLocalhostDns();
