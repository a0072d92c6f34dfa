// Package lake writes Gannet's events, alerts and dead letters to an
// Athena-ready Parquet lake on a Store (a local directory or S3).
//
// One table per log format (cloudtrail, alb, vpcflow, waf, route53resolver,
// s3access, guardduty, json) plus alerts and dead_letter. Every event table
// starts with the same common columns (ECS fields, threat enrichments as a
// JSON document, lineage), followed by the format's native columns. Column
// lists only grow at the end (see testdata/schema), so files written by an
// older Gannet stay readable by the Glue table of a newer one.
//
// Files are Hive-partitioned (<table>/dt=YYYY-MM-DD/hr=HH/, optionally with
// account and region levels before dt) by the event time, and named after the
// lineage of their rows, so processing the same batch again overwrites the
// same objects instead of adding copies.
//
// Encoding uses arrow-go's low-level Parquet column writers over per-row-group
// column buffers that are reused between row groups: no per-row allocation.
package lake
