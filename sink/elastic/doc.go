// Package elastic indexes Gannet events and alerts into Elasticsearch 7.x or
// OpenSearch through the bulk API.
//
// Promises:
//
//   - One index per log type and UTC day, <prefix>-<format>-YYYY.MM.DD, reachable
//     through the alias <prefix>-<format>; alerts go to <prefix>-alerts-YYYY.MM.DD
//     (alias <prefix>-alerts). Composable index templates with explicit mappings
//     are installed by New: ip for addresses, geo_point for *.geo.location, date
//     for @timestamp and event.ingested, keyword for ids and enumerations, text
//     (with keyword/text sub-fields) for messages, URLs and user agents.
//   - Document _id = event.id (alert id for alerts): indexing the same events
//     again overwrites them, never duplicates them.
//   - Write returns when every event given is indexed or has failed for good.
//     Items Elasticsearch rejects as malformed (mapping conflicts and other 4xx)
//     come back as stream.ItemErrors with the Permanent class and Elasticsearch's
//     error type and reason, for the pipeline to dead-letter; the rest of the bulk
//     lands. Items answered 429 or 5xx are resent alone, with jittered backoff,
//     until the context deadline (Config.RetryTimeout without one); whole-request
//     failures (connection errors, 429, 5xx) likewise, honouring Retry-After.
//     Classification happens in one function (classify).
//   - The bulk body is written by a hand-written ECS encoder (Encoder) into reused
//     buffers: no reflection and no allocation per event.
//
// The native record, aws.<format> (field reference: FIELDS.md):
//
//   - Text formats (ALB, VPC flow, S3 access) get a typed object written from
//     the parser's record (Event.Native): aws.alb, aws.vpcflow, aws.s3access,
//     with the Elastic AWS integration's field names where it has one, every
//     field mapped explicitly (keyword, long, double, ip, date, boolean), and
//     absent values ("-", AWS's -1) left out. The raw line stays in
//     event.original (stored, not indexed).
//   - JSON formats (CloudTrail, GuardDuty, WAF, Route 53 Resolver) embed the
//     raw record, validated and compacted, as the object aws.<format> (mapped
//     dynamically: strings as keyword, integers as long, fractions as double,
//     no date or numeric detection), so every member the parser reads, and
//     those it ignores, is searchable under its own name. The members whose
//     shape varies per API call or finding type (CloudTrail
//     requestParameters, responseElements, additionalEventData…, GuardDuty
//     service and resource, WAF rule lists) are embedded as one JSON string
//     each, mapped as text: searchable by word, but unable to explode the
//     mapping or conflict between events. The flattened type would keep them
//     structured but is missing from the OSS/integ-test distributions and
//     named differently in OpenSearch. A record that is not one JSON object
//     is kept as event.original instead.
//   - Generic JSON keeps the raw object in event.original only.
package elastic
