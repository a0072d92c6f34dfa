package templatetest

import (
	"fmt"
	"strings"

	"github.com/gannet-sec/gannet/sink/lake"
)

// Markers around the generated Glue tables in template.yaml.
const (
	GlueBegin = "  # BEGIN GENERATED GLUE TABLES (go test ./deploy/templatetest -run TestGlueTables -update)\n"
	GlueEnd   = "  # END GENERATED GLUE TABLES\n"
)

// GlueLogicalID is the template's logical id of a lake table: GlueTable
// followed by the table name in CamelCase (dead_letter → GlueTableDeadLetter).
func GlueLogicalID(table string) string {
	var b strings.Builder
	b.WriteString("GlueTable")
	for _, part := range strings.Split(table, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	return b.String()
}

// hours is the enum of the hr partition (two digits, as the lake writes it).
func hours() string {
	h := make([]string, 24)
	for i := range h {
		h[i] = fmt.Sprintf("%02d", i)
	}
	return strings.Join(h, ",")
}

// GlueTablesYAML renders one AWS::Glue::Table resource per lake table, with
// the lake's columns in file order and partition projection on dt (date) and
// hr (00–23), for the default lake layout <table>/dt=YYYY-MM-DD/hr=HH/ under
// s3://<lake bucket>/lake/. The text sits between GlueBegin and GlueEnd.
func GlueTablesYAML(tables []lake.Table) string {
	var b strings.Builder
	bucket := "          - Bucket: !If [CreateLakeBucket, !Ref LakeBucket, !Ref ExistingLakeBucketName]\n"
	for _, t := range tables {
		fmt.Fprintf(&b, "  %s:\n", GlueLogicalID(t.Name))
		b.WriteString("    Type: AWS::Glue::Table\n")
		b.WriteString("    Properties:\n")
		b.WriteString("      CatalogId: !Ref AWS::AccountId\n")
		b.WriteString("      DatabaseName: !Ref GlueDatabase\n")
		b.WriteString("      TableInput:\n")
		fmt.Fprintf(&b, "        Name: %s\n", t.Name)
		fmt.Fprintf(&b, "        Description: Gannet lake table %s (schema version %d)\n", t.Name, t.Version())
		b.WriteString("        TableType: EXTERNAL_TABLE\n")
		b.WriteString("        Parameters:\n")
		b.WriteString("          classification: parquet\n")
		b.WriteString("          EXTERNAL: \"TRUE\"\n")
		fmt.Fprintf(&b, "          gannet.schema.version: \"%d\"\n", t.Version())
		b.WriteString("          projection.enabled: \"true\"\n")
		b.WriteString("          projection.dt.type: date\n")
		b.WriteString("          projection.dt.format: yyyy-MM-dd\n")
		b.WriteString("          projection.dt.range: 2015-01-01,NOW\n")
		b.WriteString("          projection.dt.interval: \"1\"\n")
		b.WriteString("          projection.dt.interval.unit: DAYS\n")
		b.WriteString("          projection.hr.type: enum\n")
		fmt.Fprintf(&b, "          projection.hr.values: \"%s\"\n", hours())
		b.WriteString("          storage.location.template: !Sub\n")
		fmt.Fprintf(&b, "            - s3://${Bucket}/lake/%s/dt=${!dt}/hr=${!hr}/\n", t.Name)
		b.WriteString("  " + bucket)
		b.WriteString("        PartitionKeys:\n")
		b.WriteString("          - {Name: dt, Type: string}\n")
		b.WriteString("          - {Name: hr, Type: string}\n")
		b.WriteString("        StorageDescriptor:\n")
		b.WriteString("          Location: !Sub\n")
		fmt.Fprintf(&b, "            - s3://${Bucket}/lake/%s/\n", t.Name)
		b.WriteString("  " + bucket)
		b.WriteString("          InputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat\n")
		b.WriteString("          OutputFormat: org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat\n")
		b.WriteString("          SerdeInfo:\n")
		b.WriteString("            SerializationLibrary: org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe\n")
		b.WriteString("          Columns:\n")
		for _, c := range t.Columns {
			fmt.Fprintf(&b, "            - {Name: \"%s\", Type: \"%s\"}\n", c.Name, c.Type.Glue())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ReplaceGenerated returns template text with the region between GlueBegin
// and GlueEnd replaced by gen, and the region it held.
func ReplaceGenerated(text, gen string) (out, old string, err error) {
	i := strings.Index(text, GlueBegin)
	j := strings.Index(text, GlueEnd)
	if i < 0 || j < i {
		return "", "", fmt.Errorf("template: generated Glue table markers missing or out of order")
	}
	start := i + len(GlueBegin)
	return text[:start] + gen + text[j:], text[start:j], nil
}
