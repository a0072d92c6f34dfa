package intel_test

import (
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/enrich/intel"
)

// FuzzParseFeedSpec: --intel and GANNET_INTEL specs. A spec is refused or
// gives a location, a confidence in 0–100, and CSV options the CSV loader
// can run with (an error, never a panic).
func FuzzParseFeedSpec(f *testing.F) {
	for _, s := range []string{
		"feeds/abuse.txt#column=ip&expiry_column=until&feed=abuse&confidence=80", "x.txt#bogus=1",
		"s3://b/k.csv#format=csv&comma=%3B&header=false&kind=ip", "f.csv#comma=", "f.csv#comma=%0A", "#feed=x",
		"f.json#format=stix&confidence=101", "f#type_column=t&confidence_column=c&sha256=00", "f.csv#comma=%22",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := intel.ParseFeedSpec(s)
		if err != nil {
			return
		}
		if spec.Location == "" {
			t.Fatalf("%q: empty location accepted", s)
		}
		if spec.Confidence < 0 || spec.Confidence > 100 {
			t.Fatalf("%q: confidence %d", s, spec.Confidence)
		}
		_, _, _ = intel.ParseCSV(strings.NewReader("ip,confidence,until,type\n1.2.3.4,80,2030-01-01T00:00:00Z,ip\n"), spec.Feed, spec.CSV)
	})
}

// FuzzParseCSVOptions: CSV options set by a program (not through a spec)
// with any delimiter, on any input: problems or an error, never a panic.
// Seed: a newline delimiter made ParseCSV call FieldPos after a failed Read.
func FuzzParseCSVOptions(f *testing.F) {
	f.Add("ip,confidence\n1.2.3.4,80\n", '\n', "ip", "confidence", true)
	f.Add("1.2.3.4;90\n\"bad\n", ';', "0", "1", false)
	f.Add("a\"b,c\n", ',', "", "", false)
	f.Fuzz(func(t *testing.T, data string, comma rune, col, confCol string, header bool) {
		_, _, _ = intel.ParseCSV(strings.NewReader(data), "fuzz", intel.CSVOptions{Comma: comma, Column: col, ConfidenceColumn: confCol, Header: header})
	})
}
