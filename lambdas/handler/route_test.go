package handler

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/stream/partition"
)

type fakeRouter struct{ first int }

func (f fakeRouter) Route(ctx context.Context, recs []partition.Record) partition.Result {
	return partition.Result{FirstFailed: f.first, UserRecords: len(recs), PerOutput: map[string]int{"out": len(recs)}}
}

func TestRouteReportsFirstInputNotLanded(t *testing.T) {
	var buf bytes.Buffer
	m := emf.New("partition")
	m.W = &buf
	h := &Route{Router: fakeRouter{first: 2}, Metrics: m}
	resp, err := h.Handle(context.Background(), kevent("a", "b", "c", "d"))
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "C" {
		t.Fatalf("%+v %v", resp, err)
	}
	if !strings.Contains(buf.String(), `"RecordsFailed":2`) || !strings.Contains(buf.String(), `"Output":"out"`) {
		t.Errorf("metrics: %s", buf.String())
	}
	h.Router = fakeRouter{first: -1}
	if resp, _ := h.Handle(context.Background(), kevent("a")); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v", resp)
	}
}
