package lake

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/gannet-sec/gannet/stream"
)

var update = flag.Bool("update", false, "rewrite the golden schema files (new columns only are allowed)")

// TestSchemaGolden fails if an existing column of any table changed name,
// type or position: schema changes are additive only. With -update it
// appends new columns to testdata/schema/<table>.txt, and still refuses to
// rewrite an existing line.
func TestSchemaGolden(t *testing.T) {
	for _, name := range TableNames() {
		tb, _ := TableFor(name)
		var cur []string
		for i, c := range tb.Columns {
			cur = append(cur, fmt.Sprintf("%d %s %s since=%d", i, c.Name, c.Type, c.Since))
		}
		path := filepath.Join("testdata", "schema", name+".txt")
		data, err := os.ReadFile(path)
		if err != nil && !(os.IsNotExist(err) && *update) {
			t.Fatalf("%s: %v (run with -update to create it)", name, err)
		}
		var golden []string
		if len(data) > 0 {
			golden = strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		}
		if len(cur) < len(golden) {
			t.Errorf("%s: %d columns, golden has %d: columns were removed", name, len(cur), len(golden))
			continue
		}
		for i, g := range golden {
			if cur[i] != g {
				t.Errorf("%s: column %d changed: golden %q, now %q (append new columns at the end instead)", name, i, g, cur[i])
			}
		}
		if len(cur) > len(golden) {
			if !*update {
				t.Errorf("%s: %d new columns not in the golden file (run with -update)", name, len(cur)-len(golden))
				continue
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(strings.Join(cur, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		for _, c := range tb.Columns {
			if seen[c.Name] {
				t.Errorf("%s: duplicate column %s", name, c.Name)
			}
			seen[c.Name] = true
			if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(c.Name) {
				t.Errorf("%s: column %q is not lower snake_case", name, c.Name)
			}
		}
	}
}

// glueTypeOf maps a Parquet column as written in a file to its Glue type,
// independently of Type.Glue.
func glueTypeOf(n schema.Node) string {
	if g, ok := n.(*schema.GroupNode); ok {
		if _, isList := g.LogicalType().(schema.ListLogicalType); isList {
			return "array<" + glueTypeOf(g.Field(0).(*schema.GroupNode).Field(0)) + ">"
		}
		return "struct"
	}
	p := n.(*schema.PrimitiveNode)
	switch p.PhysicalType() {
	case parquet.Types.ByteArray:
		if _, ok := p.LogicalType().(schema.StringLogicalType); ok {
			return "string"
		}
		return "binary"
	case parquet.Types.Int32:
		return "int"
	case parquet.Types.Int64:
		if ts, ok := p.LogicalType().(schema.TimestampLogicalType); ok && ts.IsAdjustedToUTC() && ts.TimeUnit() == schema.TimeUnitMillis {
			return "timestamp"
		}
		return "bigint"
	case parquet.Types.Double:
		return "double"
	case parquet.Types.Boolean:
		return "boolean"
	}
	return "unsupported " + p.PhysicalType().String()
}

// TestDDLMatchesFiles writes one row to every table, then checks that the
// DDL's column list equals, name for name and type for type, the schema in
// the written Parquet footer.
func TestDDLMatchesFiles(t *testing.T) {
	ctx := context.Background()
	l, st := newDirLake(t, Options{Layout: Layout{Account: true, Region: true}})
	for _, f := range stream.Formats() {
		ev := cloudTrailEvents(1, 1, t0)
		ev[0].Format, ev[0].Native = f, nil
		if err := l.Write(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Alerts(ctx, []stream.Alert{{ID: stream.AlertID("r", "", t0), RuleID: "r", WindowStart: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := l.DeadLetter(ctx, []stream.DeadLetter{{Time: t0, Stage: "parse", Reason: stream.Reason{Code: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	colRe := regexp.MustCompile("^  `([a-z0-9_]+)` ([a-z<>]+),?$")
	ddl := Layout{Account: true, Region: true}.DDL("s3://lake/prefix/")
	for _, stmt := range strings.Split(strings.TrimSpace(ddl), "\n\n") {
		name := regexp.MustCompile("`gannet_([a-z0-9_]+)`").FindStringSubmatch(stmt)[1]
		var ddlCols []string
		for _, line := range strings.Split(stmt, "\n") {
			if m := colRe.FindStringSubmatch(line); m != nil {
				ddlCols = append(ddlCols, m[1]+" "+m[2])
			}
		}
		keys := listKeys(t, st, name+"/")
		if len(keys) != 1 {
			t.Fatalf("%s: files %v", name, keys)
		}
		if !strings.HasPrefix(keys[0], name+"/account=123456789012/region=eu-west-1/dt=2026-11-01/hr=05/") &&
			!strings.HasPrefix(keys[0], name+"/account=unknown/region=unknown/dt=2026-11-01/hr=05/") {
			t.Errorf("%s: key %s", name, keys[0])
		}
		if !strings.Contains(stmt, "'storage.location.template'='s3://lake/prefix/"+name+"/account=${account}/region=${region}/dt=${dt}/hr=${hr}/'") {
			t.Errorf("%s: no location template in\n%s", name, stmt)
		}
		f, err := os.Open(filepath.Join(st.Root(), keys[0]))
		if err != nil {
			t.Fatal(err)
		}
		pr, err := file.NewParquetReader(f)
		if err != nil {
			t.Fatal(err)
		}
		root := pr.MetaData().Schema.Root()
		var fileCols []string
		for i := 0; i < root.NumFields(); i++ {
			fileCols = append(fileCols, root.Field(i).Name()+" "+glueTypeOf(root.Field(i)))
		}
		f.Close()
		if strings.Join(ddlCols, "\n") != strings.Join(fileCols, "\n") {
			t.Errorf("%s: DDL columns\n%v\nfile columns\n%v", name, ddlCols, fileCols)
		}
	}
	if n := strings.Count(ddl, "CREATE EXTERNAL TABLE"); n != len(TableNames()) {
		t.Errorf("%d statements, want %d", n, len(TableNames()))
	}
}
