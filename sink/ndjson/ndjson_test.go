package ndjson

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

func TestWritesOneECSDocumentPerEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.ndjson")
	s, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]stream.Event, 3)
	for i := range evs {
		evs[i].Lineage = stream.Lineage{Kind: stream.OriginFile, Source: "f", Offset: int64(i), SubSequence: -1}
		evs[i].ID = evs[i].Lineage.ID()
		evs[i].Timestamp = time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC)
		evs[i].Format = stream.FormatALB
		evs[i].Action = "line\r\nwith\x00controls"
	}
	ctx := context.Background()
	if err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	for i, l := range lines {
		var doc struct {
			Event struct {
				ID     string `json:"id"`
				Action string `json:"action"`
			} `json:"event"`
		}
		if err := json.Unmarshal(l, &doc); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		if doc.Event.ID != evs[i].ID.String() || doc.Event.Action != evs[i].Action {
			t.Errorf("line %d = %+v", i, doc.Event)
		}
	}
}
