package lake

import (
	"fmt"
	"strings"
)

// DDL returns Athena CREATE EXTERNAL TABLE statements for the named tables
// (all when none are named) under location ("s3://bucket/prefix"), with
// partition projection on dt and hr, for the default Layout. Unknown names
// are skipped. The columns come from the same Table descriptions the writer
// encodes, so DDL and files cannot drift apart.
func DDL(location string, tables ...string) string { return Layout{}.DDL(location, tables...) }

// DDL is DDL for a lake written with layout l: account and region levels
// become injected projected partition keys (queries must name them).
func (l Layout) DDL(location string, tables ...string) string {
	location = strings.TrimRight(location, "/")
	if len(tables) == 0 {
		tables = TableNames()
	}
	var b strings.Builder
	for _, name := range tables {
		t, ok := TableFor(name)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		l.tableDDL(&b, location, t)
	}
	return b.String()
}

func (l Layout) tableDDL(b *strings.Builder, location string, t Table) {
	fmt.Fprintf(b, "CREATE EXTERNAL TABLE IF NOT EXISTS `gannet_%s` (\n", t.Name)
	for i, c := range t.Columns {
		sep := ","
		if i == len(t.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "  `%s` %s%s\n", c.Name, c.Type.Glue(), sep)
	}
	b.WriteString(")\nPARTITIONED BY (")
	var parts, tmpl []string
	if l.Account {
		parts = append(parts, "`account` string")
		tmpl = append(tmpl, "account=${account}")
	}
	if l.Region {
		parts = append(parts, "`region` string")
		tmpl = append(tmpl, "region=${region}")
	}
	parts = append(parts, "`dt` string", "`hr` string")
	tmpl = append(tmpl, "dt=${dt}", "hr=${hr}")
	b.WriteString(strings.Join(parts, ", "))
	b.WriteString(")\nSTORED AS PARQUET\n")
	fmt.Fprintf(b, "LOCATION '%s/%s/'\n", location, t.Name)
	b.WriteString("TBLPROPERTIES (\n")
	props := [][2]string{
		{"projection.enabled", "true"},
		{"projection.dt.type", "date"},
		{"projection.dt.format", "yyyy-MM-dd"},
		{"projection.dt.range", "2020-01-01,NOW"},
		{"projection.dt.interval", "1"},
		{"projection.dt.interval.unit", "DAYS"},
		{"projection.hr.type", "integer"},
		{"projection.hr.range", "0,23"},
		{"projection.hr.digits", "2"},
	}
	if l.Account {
		props = append(props, [2]string{"projection.account.type", "injected"})
	}
	if l.Region {
		props = append(props, [2]string{"projection.region.type", "injected"})
	}
	props = append(props,
		[2]string{"storage.location.template", location + "/" + t.Name + "/" + strings.Join(tmpl, "/") + "/"},
		[2]string{"parquet.compression", "ZSTD"},
		[2]string{"gannet.schema_version", fmt.Sprint(t.Version())},
	)
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "  '%s'='%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");\n")
}
