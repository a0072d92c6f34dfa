package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/setup"
)

func cmdLake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "Usage: gannet lake ddl [--location s3://bucket/prefix] [--account] [--region] [TABLE…]\n" +
		"       gannet lake compact --lake DIR|s3://bucket/prefix --table T --partition dt=YYYY-MM-DD/hr=HH [--target-bytes N]\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, help)
		return errUsage
	}
	switch args[0] {
	case "ddl":
		return cmdLakeDDL(args[1:], stdout, stderr)
	case "compact":
		return cmdLakeCompact(ctx, args[1:], stdout, stderr)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, help)
		return nil
	}
	fmt.Fprintf(stderr, "gannet lake: unknown command %q\n%s", args[0], help)
	return errUsage
}

func cmdLakeDDL(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lake ddl", "[--location s3://bucket/prefix] [--account] [--region] [TABLE…]",
		"Prints Athena CREATE EXTERNAL TABLE statements with partition projection for the lake's\n"+
			"tables (all when none is named), from the same schema the writer uses.\n\nTables: "+strings.Join(lake.TableNames(), ", ")+"\n", stderr)
	location := fs.String("location", "s3://YOUR-LAKE-BUCKET/gannet", "S3 location of the lake")
	account := fs.Bool("account", false, "the lake is partitioned by account (account=… before dt=)")
	region := fs.Bool("region", false, "the lake is partitioned by region (region=… before dt=)")
	tables, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, ok := lake.TableFor(t); !ok {
			fmt.Fprintf(stderr, "gannet lake ddl: unknown table %q (tables: %s)\n", t, strings.Join(lake.TableNames(), ", "))
			return errUsage
		}
	}
	_, err = io.WriteString(stdout, lake.Layout{Account: *account, Region: *region}.DDL(*location, tables...))
	return err
}

func cmdLakeCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lake compact", "--lake DIR|s3://… --table T --partition dt=YYYY-MM-DD/hr=HH",
		"Merges a partition's small Parquet files into files of about --target-bytes, without losing\n"+
			"or duplicating rows. Safe to rerun after a crash midway (it finishes what it started).\n"+
			"Readers listing the partition while it runs may see some rows twice (old and new file);\n"+
			"rows keep their event_id. Run it on partitions writers have left.\n", stderr)
	loc := fs.String("lake", "", "lake location (required)")
	table := fs.String("table", "", "table (required): "+strings.Join(lake.TableNames(), ", "))
	partition := fs.String("partition", "", "partition below the table, e.g. dt=2026-11-01/hr=05 (required)")
	target := fs.String("target-bytes", "256MiB", "target size of merged files")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *loc == "" || *table == "" || *partition == "" {
		fmt.Fprintln(stderr, "gannet lake compact: --lake, --table and --partition are required")
		return errUsage
	}
	n, err := config.ParseByteSize(*target)
	if err != nil {
		return fmt.Errorf("--target-bytes: %w", err)
	}
	cfg, err := config.Load("", nil)
	if err != nil {
		return err
	}
	st, err := setup.LakeStore(ctx, *loc, cfg.LakeKMSKey)
	if err != nil {
		return err
	}
	res, err := lake.Compact(ctx, st, *table, *partition, int64(n))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "compacted %s/%s: %d files → %d files, %d rows", *table, *partition, res.Inputs, res.Outputs, res.Rows)
	if res.Recovered > 0 {
		fmt.Fprintf(stdout, " (finished %d interrupted compactions)", res.Recovered)
	}
	fmt.Fprintln(stdout)
	return nil
}
