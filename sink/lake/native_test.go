package lake

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

// TestNativeColumnsReadBack checks the native columns of every format
// against the parsed records, through a written and re-read file.
func TestNativeColumnsReadBack(t *testing.T) {
	ctx := context.Background()
	for _, f := range stream.Formats() {
		if f == stream.FormatJSON {
			continue // no generator
		}
		t.Run(f.String(), func(t *testing.T) {
			l, st := newDirLake(t, Options{})
			evs := parsedEvents(t, f, 300, 5)
			if err := l.Write(ctx, evs); err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			byID := map[string]map[string]any{}
			for _, k := range listKeys(t, st, f.String()+"/") {
				rows, _ := readFile(t, st, k)
				for i, id := range rows["event_id"] {
					row := map[string]any{}
					for name, vals := range rows {
						row[name] = vals[i]
					}
					byID[id.(string)] = row
				}
			}
			if len(byID) != len(evs) {
				t.Fatalf("%d rows read, %d written", len(byID), len(evs))
			}
			native := nativeColumns(f)
			if len(native) == 0 {
				t.Fatal("no native columns")
			}
			nonNull := map[string]int{}
			for i := range evs {
				row := byID[evs[i].ID.String()]
				for _, c := range native {
					v := row[c.Name]
					if v == nil {
						continue
					}
					nonNull[c.Name]++
					if c.Type == JSON && !json.Valid([]byte(v.(string))) {
						t.Fatalf("%s: invalid JSON %q", c.Name, v)
					}
				}
				if r, ok := evs[i].Native.(*cloudtrail.Record); ok {
					if got := row["user_identity_arn"]; r.UserIdentity.ARN != "" && got != r.UserIdentity.ARN {
						t.Fatalf("user_identity_arn %v, want %s", got, r.UserIdentity.ARN)
					}
					if got := row["request_parameters"]; r.RequestParameters != "" && got != r.RequestParameters {
						t.Fatalf("request_parameters %v, want %s", got, r.RequestParameters)
					}
					if got := row["read_only"]; got != r.ReadOnly {
						t.Fatalf("read_only %v, want %v", got, r.ReadOnly)
					}
				}
			}
			// Most native columns of generated data carry values.
			if len(nonNull) < len(native)/3 {
				t.Errorf("only %d of %d native columns hold values: %v", len(nonNull), len(native), nonNull)
			}
		})
	}
}
