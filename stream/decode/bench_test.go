package decode

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/cwlogs"
	"github.com/gannet-sec/gannet/stream/kpl"
)

// ctEvent is a CloudTrail event of about 900 bytes, the size the design
// notes measure JSON decoding with.
const ctEvent = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE%06d","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE","userName":"alice","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2026-11-01T00:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2026-11-01T00:00:%02dZ","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.%d","userAgent":"aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64.amzn.2 prompt/off command/ec2.describe-instances","requestParameters":{"instancesSet":{},"filterSet":{},"includeAllInstances":false},"responseElements":null,"requestID":"0d6b4e3c-8f5e-4b55-9a3e-%012d","eventID":"a1b2c3d4-5678-90ab-cdef-%012d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.eu-west-1.amazonaws.com"}}`

func ctLines(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, ctEvent, i, i%60, i%250, i, i)
	}
	return out
}

const albLine = `https 2026-11-01T00:00:00.123456Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2026-11-01T00:00:00.000000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_123456`

func BenchmarkDecode(b *testing.B) {
	ct := ctLines(1000)
	ndjson := append(bytes.Join(ct, []byte("\n")), '\n')
	records := append(append([]byte(`{"Records":[`), bytes.Join(ct, []byte(","))...), "]}"...)
	var alb bytes.Buffer
	for range 5000 {
		alb.WriteString(albLine)
		alb.WriteByte('\n')
	}
	a := kpl.NewAggregator(0)
	var kplRec []byte
	for i := 0; kplRec == nil; i++ {
		out, err := a.Add(fmt.Sprint("pk", i%16), "", ct[i%len(ct)])
		if err != nil {
			b.Fatal(err)
		}
		if out != nil {
			kplRec = out.Data
		}
	}
	cw := &cwlogs.Message{MessageType: cwlogs.DataMessage, Owner: "123456789012", LogGroup: "/aws/cloudtrail", LogStream: "s"}
	for i, l := range ct {
		cw.LogEvents = append(cw.LogEvents, cwlogs.LogEvent{ID: fmt.Sprintf("%056d", i), Timestamp: int64(i), Message: string(l)})
	}
	var cwgz bytes.Buffer
	if err := cwlogs.Encode(&cwgz, cw); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		fmt  stream.Format
	}{
		{"container=ndjson/format=cloudtrail", ndjson, 0},
		{"container=records/format=cloudtrail", records, 0},
		{"container=text/format=alb", alb.Bytes(), stream.FormatALB},
		{"container=kpl/format=cloudtrail", kplRec, 0},
		{"container=gzip/format=cloudtrail", gz(b, string(ndjson)), 0},
		{"container=cwlogs/format=cloudtrail", cwgz.Bytes(), 0},
	}
	if files, _ := filepath.Glob("../../../shared/corpus/cloudtrail-stratus/*.json"); len(files) > 0 {
		var all [][]byte
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err == nil {
				all = append(all, bytes.TrimSpace(data[1:len(bytes.TrimSpace(data))-1]))
			}
		}
		arr := append(append([]byte("[\n"), bytes.Join(all, []byte(",\n"))...), "\n]"...)
		cases = append(cases, struct {
			name string
			data []byte
			fmt  stream.Format
		}{"container=array/format=stratus", arr, 0})
	}
	var sink stream.UnitSink = funcSink{unit: func(*stream.Unit) error { return nil }}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := New(Options{})
			rec := kinesisRec(c.data)
			rec.Format = c.fmt
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if err := d.Decode(rec, sink); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0, len(c.data))
			reportOut(b, cpu0, d.Stats().BytesOut)
			st := d.Stats()
			if st.Failures > 0 {
				b.Fatalf("failures: %v", st.FailuresByReason)
			}
			b.ReportMetric(float64(st.Units)/b.Elapsed().Seconds(), "units/s")
		})
	}
}

// reportCPU reports MB per CPU second (see cpuTime).
func reportCPU(b *testing.B, cpu0 time.Duration, size int) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
}

// reportOut reports the unit bytes produced per CPU second, the useful
// figure for compressed containers.
func reportOut(b *testing.B, cpu0 time.Duration, out int64) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(out)/cpu.Seconds()/1e6, "out-MB/cpu-s")
	}
}
