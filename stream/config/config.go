// Package config is Gannet's configuration: a YAML file whose every key has
// an environment-variable twin (GANNET_<KEY>, upper-cased, dots as
// underscores), so the command line and the Lambdas read the same settings.
// Load validates everything at start and names the key and the expected form
// in each error.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gannet-sec/gannet/stream"
)

// Config is every setting of the pipeline. The yaml tag is the key; the env
// tag its environment twin.
type Config struct {
	// Format is the default format of inputs: a format name or "auto".
	Format string `yaml:"format" env:"GANNET_FORMAT"`
	// Sources map input sources (stream ARN, bucket/key, file path; glob
	// patterns with * and ?) to formats; the first match wins.
	Sources []Source `yaml:"sources" env:"GANNET_SOURCES"`
	// MaxRecordBytes caps the decompressed size of one record (gzip bombs
	// are dead-lettered past it).
	MaxRecordBytes ByteSize `yaml:"max_record_bytes" env:"GANNET_MAX_RECORD_BYTES"`
	// BatchSize is the number of records per pipeline batch in `gannet run`.
	BatchSize int `yaml:"batch_size" env:"GANNET_BATCH_SIZE"`
	// VPCFlowFields is a custom VPC Flow Logs format ("version account-id …").
	VPCFlowFields string `yaml:"vpcflow_fields" env:"GANNET_VPCFLOW_FIELDS"`

	// Out is where normalized events go as NDJSON ("-" for stdout, empty for none).
	Out string `yaml:"out" env:"GANNET_OUT"`
	// DLQ is the dead-letter location: a directory or s3://bucket/prefix.
	DLQ string `yaml:"dlq" env:"GANNET_DLQ"`
	// Lake is the Parquet lake: a directory or s3://bucket/prefix.
	Lake string `yaml:"lake" env:"GANNET_LAKE"`
	// ESURL is the Elasticsearch/OpenSearch endpoint.
	ESURL string `yaml:"es_url" env:"GANNET_ES_URL"`

	// GeoIP / ASN are MaxMind-format databases (path or s3://…).
	GeoIP string `yaml:"geoip" env:"GANNET_GEOIP"`
	ASN   string `yaml:"asn" env:"GANNET_ASN"`
	// GeoIPCheck is how GeoIP databases are checked when opened: full
	// (every record decoded, seconds for a city database) or quick (metadata
	// and search tree; pair it with GeoIPSHA256 on Lambda cold starts).
	GeoIPCheck string `yaml:"geoip_check" env:"GANNET_GEOIP_CHECK"`
	// GeoIPSHA256 / ASNSHA256 are the expected SHA-256 of the databases
	// (comma-separated, in the same order).
	GeoIPSHA256 string `yaml:"geoip_sha256" env:"GANNET_GEOIP_SHA256"`
	ASNSHA256   string `yaml:"asn_sha256" env:"GANNET_ASN_SHA256"`
	// Intel lists threat-intel indicator files (comma-separated in the environment).
	Intel []string `yaml:"intel" env:"GANNET_INTEL"`
	// IntelDemo adds the embedded demo threat-intel feed (the indicators
	// `gannet gen --attacks` uses).
	IntelDemo bool `yaml:"intel_demo" env:"GANNET_INTEL_DEMO"`
	// EnrichReload, when positive, polls local GeoIP/ASN databases and intel
	// files at this interval and swaps them in when replaced (long-running
	// consumers); 0 never reloads. Same variable as enrich.EnvReload.
	EnrichReload time.Duration `yaml:"enrich_reload" env:"GANNET_ENRICH_RELOAD"`
	// Rules lists Sigma rule directories loaded besides the built-in rules.
	Rules []string `yaml:"rules" env:"GANNET_RULES"`
	// NoBuiltinRules leaves the built-in rules out.
	NoBuiltinRules bool `yaml:"no_builtin_rules" env:"GANNET_NO_BUILTIN_RULES"`
	// AllowedCountries are ISO country codes API calls may come from (for
	// the built-in "API call from an unexpected country" rule).
	AllowedCountries []string `yaml:"allowed_countries" env:"GANNET_ALLOWED_COUNTRIES"`
	// Detect turns detection off when false.
	Detect bool `yaml:"detect" env:"GANNET_DETECT"`
	// Anomaly turns on anomaly detection (detect/anomaly: request rate and
	// error rate per client IP, new country, new API) with its defaults.
	Anomaly bool `yaml:"anomaly" env:"GANNET_ANOMALY"`
	// AnomalyErrorFactor is how many times its baseline error ratio a
	// client's bucket must reach to alert (0: the default, 3).
	AnomalyErrorFactor int `yaml:"anomaly_error_factor" env:"GANNET_ANOMALY_ERROR_FACTOR"`
	// AnomalyState is a local directory where the learned anomaly baselines
	// are restored from at start and snapshotted to at a graceful stop and
	// every AnomalySnapshotInterval, one file per pipeline (per shard in the
	// KCL consumer), so that a restarted consumer does not relearn from
	// zero. Needs anomaly.
	AnomalyState string `yaml:"anomaly_state" env:"GANNET_ANOMALY_STATE"`
	// AnomalySnapshotInterval is how often the baselines are also
	// snapshotted to anomaly_state while the pipeline runs, so that a
	// consumer that is killed (or whose host dies) restarts from a recent
	// snapshot rather than from its last graceful stop. The snapshot is
	// taken at the first successful flush after the interval has elapsed
	// (when everything processed so far is durable); a failed one is logged
	// and retried one interval later. Load makes it
	// DefaultAnomalySnapshotInterval when anomaly_state is set and this key
	// is not; 0s takes snapshots only at a graceful stop. Needs
	// anomaly_state.
	AnomalySnapshotInterval time.Duration `yaml:"anomaly_snapshot_interval" env:"GANNET_ANOMALY_SNAPSHOT_INTERVAL"`

	// ESUsername / ESPassword select basic authentication for es_url. Prefer
	// the environment (filled from Secrets Manager) to the file.
	ESUsername string `yaml:"es_username" env:"GANNET_ES_USERNAME"`
	ESPassword string `yaml:"es_password" env:"GANNET_ES_PASSWORD"`
	// ESSigV4Region signs requests with AWS SigV4 for Amazon OpenSearch Service.
	ESSigV4Region string `yaml:"es_sigv4_region" env:"GANNET_ES_SIGV4_REGION"`
	// ESInsecure turns TLS verification off for es_url (never in production).
	ESInsecure bool `yaml:"es_insecure" env:"GANNET_ES_INSECURE"`

	// LakeKMSKey encrypts lake objects on S3 with SSE-KMS under this key id or ARN.
	LakeKMSKey string `yaml:"lake_kms_key" env:"GANNET_LAKE_KMS_KEY"`
	// LakeCodec is zstd (default), snappy or none.
	LakeCodec string `yaml:"lake_codec" env:"GANNET_LAKE_CODEC"`

	// AlertTopicARN publishes every alert to this SNS topic.
	AlertTopicARN string `yaml:"alert_topic_arn" env:"GANNET_ALERT_TOPIC_ARN"`
	// AlertWebhookURL posts every alert to a Slack-compatible webhook. The
	// URL is a credential: give it through the environment (Secrets Manager).
	AlertWebhookURL string `yaml:"alert_webhook_url" env:"GANNET_ALERT_WEBHOOK_URL"`

	// LogLevel is debug, info, warn or error; LogFormat json, text or auto.
	LogLevel  string `yaml:"log_level" env:"GANNET_LOG_LEVEL"`
	LogFormat string `yaml:"log_format" env:"GANNET_LOG_FORMAT"`

	// Deadline margin: a Lambda stops this long before its deadline and
	// reports what it did not finish.
	DeadlineMargin time.Duration `yaml:"deadline_margin" env:"GANNET_DEADLINE_MARGIN"`
}

// Source maps a source pattern to a format.
type Source struct {
	Match  string `yaml:"match"`
	Format string `yaml:"format"`
}

// DefaultAnomalySnapshotInterval is anomaly_snapshot_interval when
// anomaly_state is set and the interval is not.
const DefaultAnomalySnapshotInterval = 5 * time.Minute

// Default returns the defaults every setting starts from.
func Default() Config {
	return Config{
		Format:         "auto",
		MaxRecordBytes: 64 << 20,
		BatchSize:      1000,
		LogLevel:       "info",
		LogFormat:      "auto",
		DeadlineMargin: 2 * time.Second,
		Detect:         true,
		LakeCodec:      "zstd",
	}
}

// ByteSize is a size in bytes, written as 123, 64KiB, 64MiB, 1GiB, 10MB.
type ByteSize int64

// UnmarshalYAML accepts a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// ParseByteSize parses "123", "64KiB", "64MiB", "1GiB", "10MB", "5kb".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			mult = u.mult
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size such as 1048576, 64KiB or 64MiB, got %q", s)
	}
	return ByteSize(n * mult), nil
}

// Load reads defaults, then the YAML file at path (if path is not empty),
// then the environment (env may be nil: os.LookupEnv), and validates.
func Load(file string, env func(string) (string, bool)) (Config, error) {
	c := Default()
	intervalGiven := false // anomaly_snapshot_interval set by the file or the environment
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		var given struct {
			Interval yaml.Node `yaml:"anomaly_snapshot_interval"`
		}
		if err := yaml.Unmarshal(data, &given); err == nil && given.Interval.Kind != 0 && given.Interval.ShortTag() != "!!null" {
			intervalGiven = true
		}
	}
	if env == nil {
		env = os.LookupEnv
	}
	if err := c.applyEnv(env); err != nil {
		return c, err
	}
	if _, ok := env("GANNET_ANOMALY_SNAPSHOT_INTERVAL"); ok {
		intervalGiven = true
	}
	if !intervalGiven && c.AnomalyState != "" {
		c.AnomalySnapshotInterval = DefaultAnomalySnapshotInterval
	}
	return c, c.validate(intervalGiven)
}

// applyEnv overrides fields from their environment twins.
func (c *Config) applyEnv(env func(string) (string, bool)) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		val, ok := env(name)
		if name == "" || !ok {
			continue
		}
		fv := v.Field(i)
		bad := func(form string) error {
			return fmt.Errorf("config: %s (key %q) = %q: want %s", name, f.Tag.Get("yaml"), val, form)
		}
		switch fv.Interface().(type) {
		case string:
			fv.SetString(val)
		case bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("true or false")
			}
			fv.SetBool(b)
		case int:
			n, err := strconv.Atoi(val)
			if err != nil {
				return bad("an integer")
			}
			fv.SetInt(int64(n))
		case ByteSize:
			n, err := ParseByteSize(val)
			if err != nil {
				return bad("a size such as 64MiB")
			}
			fv.SetInt(int64(n))
		case time.Duration:
			d, err := time.ParseDuration(val)
			if err != nil {
				return bad("a duration such as 2s or 500ms")
			}
			fv.SetInt(int64(d))
		case []string:
			var list []string
			for _, s := range strings.Split(val, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			fv.Set(reflect.ValueOf(list))
		case []Source:
			// "pattern=format,pattern=format"
			var list []Source
			for _, s := range strings.Split(val, ",") {
				pat, form, ok := strings.Cut(strings.TrimSpace(s), "=")
				if !ok {
					return bad("a list of pattern=format pairs separated by commas")
				}
				list = append(list, Source{Match: pat, Format: form})
			}
			fv.Set(reflect.ValueOf(list))
		}
	}
	return nil
}

// Validate checks every setting and names the key at fault.
func (c *Config) Validate() error {
	return c.validate(c.AnomalySnapshotInterval != 0)
}

// validate is Validate; intervalGiven says whether anomaly_snapshot_interval
// was set (Load knows when it was set to 0s).
func (c *Config) validate(intervalGiven bool) error {
	var errs []error
	if c.Format != "auto" {
		if _, ok := stream.ParseFormat(c.Format); !ok {
			errs = append(errs, fmt.Errorf("config: format = %q: want auto or one of %s", c.Format, formatNames()))
		}
	}
	for i, s := range c.Sources {
		if s.Match == "" {
			errs = append(errs, fmt.Errorf("config: sources[%d].match is empty: want a source pattern such as arn:aws:kinesis:*:*:stream/alb-*", i))
		} else if _, err := path.Match(s.Match, ""); err != nil {
			errs = append(errs, fmt.Errorf("config: sources[%d].match = %q: %v", i, s.Match, err))
		}
		if _, ok := stream.ParseFormat(s.Format); !ok {
			errs = append(errs, fmt.Errorf("config: sources[%d].format = %q: want one of %s", i, s.Format, formatNames()))
		}
	}
	if c.AnomalyState != "" && !c.Anomaly {
		errs = append(errs, fmt.Errorf("config: anomaly_state = %q: needs anomaly = true (there is no anomaly state to keep)", c.AnomalyState))
	}
	switch {
	case intervalGiven && c.AnomalyState == "":
		errs = append(errs, fmt.Errorf("config: anomaly_snapshot_interval = %s: needs anomaly_state (there is nowhere to write the snapshots)", c.AnomalySnapshotInterval))
	case c.AnomalySnapshotInterval < 0:
		errs = append(errs, fmt.Errorf("config: anomaly_snapshot_interval = %s: want a positive duration such as 5m, or 0s for snapshots only at a graceful stop", c.AnomalySnapshotInterval))
	}
	if c.AnomalyErrorFactor < 0 {
		errs = append(errs, fmt.Errorf("config: anomaly_error_factor = %d: want 0 (default) or more", c.AnomalyErrorFactor))
	}
	if c.MaxRecordBytes < 1024 {
		errs = append(errs, fmt.Errorf("config: max_record_bytes = %d: want at least 1KiB", c.MaxRecordBytes))
	}
	if c.BatchSize < 1 || c.BatchSize > 1_000_000 {
		errs = append(errs, fmt.Errorf("config: batch_size = %d: want 1 to 1000000", c.BatchSize))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("config: log_level = %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("config: log_format = %q: want auto, json or text", c.LogFormat))
	}
	switch c.GeoIPCheck {
	case "", "full", "quick":
	default:
		errs = append(errs, fmt.Errorf("config: geoip_check = %q: want full or quick", c.GeoIPCheck))
	}
	switch c.LakeCodec {
	case "zstd", "snappy", "none":
	default:
		errs = append(errs, fmt.Errorf("config: lake_codec = %q: want zstd, snappy or none", c.LakeCodec))
	}
	if c.EnrichReload < 0 {
		errs = append(errs, fmt.Errorf("config: enrich_reload = %s: want 0 (off) or a positive duration such as 60s", c.EnrichReload))
	}
	if c.DeadlineMargin < 0 {
		errs = append(errs, fmt.Errorf("config: deadline_margin = %s: want a positive duration", c.DeadlineMargin))
	}
	return errors.Join(errs...)
}

// FormatFor returns the format configured for a source name (stream ARN,
// bucket/key, file path): the first matching Sources entry, else Format
// (FormatUnknown for auto).
func (c *Config) FormatFor(source string) stream.Format {
	for _, s := range c.Sources {
		if ok, _ := path.Match(s.Match, source); ok {
			f, _ := stream.ParseFormat(s.Format)
			return f
		}
	}
	f, _ := stream.ParseFormat(c.Format)
	return f
}

// VPCFlowFieldList splits VPCFlowFields.
func (c *Config) VPCFlowFieldList() []string { return strings.Fields(c.VPCFlowFields) }

func formatNames() string {
	var names []string
	for _, f := range stream.Formats() {
		names = append(names, f.String())
	}
	return strings.Join(names, ", ")
}
