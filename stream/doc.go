// Package stream holds Gannet's record and event model, the stage
// interfaces of the hot path, error classification and the pipeline core.
//
// Data flows as: Record (bytes + lineage) → decode → Unit (one log line or
// JSON object) → parse → Event → enrich → detect → sinks → ack.
package stream
